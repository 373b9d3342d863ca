#!/usr/bin/env python3
"""chatglm_sft_reference.py TOKENIZER_DIR QA.jsonl CONV.jsonl MAX_SOURCE MAX_TARGET > rows.json

The reference's fine-tuning rows, for checking glm3d prep sft by hand (never run by the build,
tests or CI). Needs the `sentencepiece` package only (python3 -m venv V && V/bin/pip install
sentencepiece): transformers' part (tokenize -> ids, truncation counting the special tokens) is
written out below as transformers 4.27's PreTrainedTokenizer does it, the rest follows
  - SPTokenizer / build_prompt / build_single_message: chatglm3-6b tokenization_chatglm.py
  - preprocess_function_train: THUDM/ChatGLM2-6B ptuning/main.py (a33cb4f)
  - process_batch: THUDM/ChatGLM3 finetune_demo/finetune_hf.py (c1d4117)
Prints {"chatglm2": [[input_ids, labels], ...], "chatglm3": [...]} for QA.jsonl ({"content",
"summary"}) and CONV.jsonl ({"conversations": [...]}), unpadded for chatglm3 (its collator pads).
"""
import json
import sys

from sentencepiece import SentencePieceProcessor


class SPTokenizer:
    def __init__(self, model_path):
        self.sp_model = SentencePieceProcessor(model_file=model_path)
        self.n_words = self.sp_model.vocab_size()
        self.bos_id = self.sp_model.bos_id()
        self.eos_id = self.sp_model.eos_id()
        self.pad_id = self.sp_model.unk_id()
        role_special_tokens = ["<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"]
        special_tokens = ["[MASK]", "[gMASK]", "[sMASK]", "sop", "eop"] + role_special_tokens
        self.special_tokens = {}
        for token in special_tokens:
            self.special_tokens[token] = self.n_words
            self.n_words += 1

    def encode(self, s):
        return self.sp_model.encode(s)

    def convert_token_to_id(self, token):
        if token in self.special_tokens:
            return self.special_tokens[token]
        return self.sp_model.PieceToId(token)


class Tokenizer:
    """The parts of ChatGLMTokenizer + PreTrainedTokenizer the fine-tuning code calls."""

    def __init__(self, model_path):
        self.tokenizer = SPTokenizer(model_path)
        self.special = {"<bos>": self.tokenizer.bos_id, "<eos>": self.tokenizer.eos_id,
                        "<pad>": self.tokenizer.pad_id}
        self.eos_token_id = self.special["<eos>"]
        self.pad_token_id = self.special["<pad>"]

    def get_command(self, token):
        return self.special[token] if token in self.special else self.tokenizer.special_tokens[token]

    def build_prompt(self, query, history=None):  # chatglm2-6b
        if history is None:
            history = []
        prompt = ""
        for i, (old_query, response) in enumerate(history):
            prompt += "[Round {}]\n\n问：{}\n\n答：{}\n\n".format(i + 1, old_query, response)
        prompt += "[Round {}]\n\n问：{}\n\n答：".format(len(history) + 1, query)
        return prompt

    def build_single_message(self, role, metadata, message):
        role_tokens = [self.get_command(f"<|{role}|>")] + self.tokenizer.encode(f"{metadata}\n")
        return role_tokens + self.tokenizer.encode(message)

    def encode(self, text, add_special_tokens, truncation, max_length):
        # tokenize (no added tokens to split on) -> _tokenize = EncodeAsPieces -> ids
        ids = [self.tokenizer.convert_token_to_id(p) for p in self.tokenizer.sp_model.EncodeAsPieces(text)]
        # prepare_for_model: the special tokens count against max_length; truncation from the
        # right, refused (ids kept) when it would remove the whole sequence
        total = len(ids) + (2 if add_special_tokens else 0)
        if truncation and max_length and total > max_length:
            remove = total - max_length
            if len(ids) > remove:
                ids = ids[:-remove]
        if add_special_tokens:  # build_inputs_with_special_tokens: [gMASK] sop in front
            ids = [self.get_command("[gMASK]"), self.get_command("sop")] + ids
        return ids


def preprocess_function_train(tokenizer, query, answer, history, max_source_length, max_target_length):
    max_seq_length = max_source_length + max_target_length
    prompt = tokenizer.build_prompt(query, history)
    a_ids = tokenizer.encode(prompt, add_special_tokens=True, truncation=True, max_length=max_source_length)
    b_ids = tokenizer.encode(answer, add_special_tokens=False, truncation=True, max_length=max_target_length)
    context_length = len(a_ids)
    input_ids = a_ids + b_ids + [tokenizer.eos_token_id]
    labels = [tokenizer.pad_token_id] * context_length + b_ids + [tokenizer.eos_token_id]
    pad_len = max_seq_length - len(input_ids)
    input_ids = input_ids + [tokenizer.pad_token_id] * pad_len
    labels = labels + [tokenizer.pad_token_id] * pad_len
    labels = [(l if l != tokenizer.pad_token_id else -100) for l in labels]
    return input_ids, labels


def process_batch(tokenizer, conv, max_input_length, max_output_length):
    input_ids, loss_masks = [tokenizer.get_command("[gMASK]"), tokenizer.get_command("sop")], [False, False]
    for message in conv:
        loss_mask_val = message["role"] not in ("system", "user")
        new_input_ids = tokenizer.build_single_message(message["role"], "", message["content"])
        input_ids += new_input_ids
        loss_masks += [loss_mask_val] * len(new_input_ids)
    input_ids.append(tokenizer.eos_token_id)
    loss_masks = [False, *loss_masks]
    labels = [input_id if mask else -100 for input_id, mask in zip(input_ids, loss_masks)]
    max_length = max_input_length + max_output_length + 1
    return input_ids[:max_length], labels[:max_length]


def main():
    tok = Tokenizer(sys.argv[1] + "/tokenizer.model")
    src, tgt = int(sys.argv[4]), int(sys.argv[5])
    out = {"chatglm2": [], "chatglm3": []}
    for line in open(sys.argv[2], encoding="utf-8"):
        r = json.loads(line)
        out["chatglm2"].append(preprocess_function_train(tok, r["content"], r["summary"], r.get("history"), src, tgt))
    for line in open(sys.argv[3], encoding="utf-8"):
        out["chatglm3"].append(process_batch(tok, json.loads(line)["conversations"], src, tgt))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
