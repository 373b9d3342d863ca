#!/usr/bin/env python3
"""write_chatglm2_tokenizer.py DIR NAME_OR_PATH [PIECE...]: the hand-built tokenizer of sp_model_builder.cpp
(chatglm2_layout_model: <unk> <s> </s>, then the text pieces scoring -1, identity normalizer,
dummy prefix) as DIR/tokenizer.model, and DIR/tokenizer_config.json naming NAME_OR_PATH ("" for
none). PIECEs are appended after the text pieces (moving the special ids up by as many). The
protobuf is written field by field, as the C++ builder does; no sentencepiece needed."""
import os
import struct
import sys

PIECES = ["\u2581", "a", "b", "c", "\n", "[", "]", "Round", "\u2581[", "1", "2", "问", "答", "：",
          "\u2581a", "ab", "cd", "\u2581ab", "<", "|", "u", "s", "e", "r", ">", "\u2581x", "\u2581c",
          "\u2581cd"]


def varint(v):
    v &= (1 << 64) - 1
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def tag(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, v):
    return tag(field, 0) + varint(v)


def f_bytes(field, b):
    return tag(field, 2) + varint(len(b)) + b


def model(extra):
    pieces = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)] + [(p, -1.0, 1) for p in PIECES + extra]
    out = b""
    for p, score, kind in pieces:
        out += f_bytes(1, f_bytes(1, p.encode()) + tag(2, 5) + struct.pack("<f", score) + f_varint(3, kind))
    trainer = f_varint(3, 1) + f_varint(4, len(pieces)) + f_varint(40, 0) + f_varint(41, 1) + f_varint(42, 2)
    trainer += f_varint(43, -1)
    out += f_bytes(2, trainer)
    out += f_bytes(3, f_bytes(1, b"identity") + f_varint(3, 1) + f_varint(4, 0) + f_varint(5, 1))
    return out


def main():
    d, name = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.model"), "wb") as f:
        f.write(model(sys.argv[3:]))
    config = "{\n" + ('  "name_or_path": "%s",\n' % name if name else "")
    config += '  "remove_space": false,\n  "do_lower_case": false,\n  "tokenizer_class": "ChatGLMTokenizer"\n}\n'
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        f.write(config)


if __name__ == "__main__":
    main()
