#!/usr/bin/env bash
# Regenerates the seed corpora (corpus/<target>/) with glm3d itself: small valid files of every
# kind the readers take. Run by hand after a format change, from a normal build:
#   tests/fuzz/make_seeds.sh [build/glm3d]
# Needs fortunes + fortunes-zh (data/corpus/make_sample_corpus.sh), gzip, perl, spm_train (Debian
# sentencepiece). The tokenizer is
# trained anew, so the token store seeds change with it (and the sha256 in their manifests).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(realpath "${1:-$root/build/glm3d}")"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
c="$here/corpus"
# Two files in one input (fuzz_support.h split_two_files): u16 length, the first, the second.
two_files() { perl -e 'print pack("v", -s $ARGV[0])' "$1"; cat "$1" "$2"; }
# Seeds named *_v1hdr.* were written by glm3d before its HDF5 files had checksummed (version 2)
# object headers (data/h5_format.h): they cannot be made again, so they are kept.
mkdir -p "$work/v1hdr"
find "$c" -name '*_v1hdr.*' -exec cp --parents {} "$work/v1hdr" \; 2>/dev/null || true
rm -rf "$c"
cp -a "$work/v1hdr/$c/." "$c/" 2>/dev/null || mkdir -p "$c"
mkdir -p "$c"/{model_ini,config_file,jsonl,safetensors,chatglm_config,token_manifest,token_shard,sample_file,ckpt,tokenizer,quant_state,cpu_profile,peft_adapter,ptuning,sft_jsonl,quantized_ckpt,sft_store,chatglm_tokenizer,chatglm2_tokenizer,tool_call}

# ---- model INI: a GLM small enough for every other seed (1 layer, hidden 8), and the suite's own
cat >"$c/model_ini/micro.ini" <<'INI'
# a GLM small enough for fuzz seeds
[model]
base = tiny
num_layers = 1
hidden = 8
num_heads = 2
ffn_hidden = 16
vocab = 32
seq_len = 32
INI
cp "$root/tests/ckpt/stop_model.ini" "$c/model_ini/stop_model.ini"
cat >"$c/model_ini/every_key.ini" <<'INI'
; every key, both spellings
[model]
base = glm-130b   # applied first
name = every-key
num-layers = 2
hidden = 64
num_heads = 4
ffn_hidden = 96
vocab = 1000
seq-len = 64
ffn = gelu
rope = 1d
rope_base = 10000.5
ln_eps = 1e-6
init_std = 0.02
lr = 3e-4
INI

# ---- --config files
cat >"$c/config_file/train.ini" <<'INI'
# keys before any section apply to every command
model = tiny
seed = 7
[train]
steps = 300
global_batch = 16
tp = 2
lr = 1e-3
beta2 = 0.99
synthetic = true
quiet = false
use_distributed_optimizer = true
precision = bf16
[eval]
tp = 1
INI
cat >"$c/config_file/megatron.ini" <<'INI'
train-iters = 10
global-batch-size = 8
tensor-model-parallel-size = 1
input = a.txt b.txt
input = c.jsonl
INI

# ---- JSONL prep input (plain and gzip)
printf '{"text": "Hello world. A first document.", "id": 1}\n\n{"id": 2, "text": "second \\u4e2d\\u6587 \\"quoted\\"\\n line", "meta": {"a": [1, 2.5, null, true]}}\r\n{"text": "third"}\n' \
  >"$c/jsonl/docs.jsonl"
gzip -9 -n -c "$c/jsonl/docs.jsonl" >"$c/jsonl/docs.jsonl.gz"
# the prompt file of glm3d generate --input (the same target reads it)
printf '{"prompt": "The best way to"}\n{"prompt": "[gMASK]<sop>\\u4f60\\u597d [MASK] end", "max_new_tokens": 4}\n\n{"input_ids": [5, 17, 291]}\n' \
  >"$c/jsonl/prompts.jsonl"

# ---- a trained micro model: checkpoint, bf16 weights, ChatGLM export (safetensors + config.json)
cd "$work"
"$bin" train --model "$c/model_ini/micro.ini" --synthetic --steps 1 --global-batch 2 --micro-batch 1 \
  --save ck --quiet >/dev/null
"$bin" ckpt export ck --out weights.h5 >/dev/null
"$bin" ckpt export ck --to chatglm-6b --out st_bf16 --dtype bf16 >/dev/null
"$bin" ckpt export ck --to chatglm-6b --out st_f16 --dtype f16 >/dev/null
cp ck/step_00000001.h5 "$c/ckpt/train_step1.h5"
cp weights.h5 "$c/ckpt/weights_bf16.h5"
cp st_bf16/model.safetensors "$c/safetensors/micro_bf16.safetensors"
cp st_f16/model.safetensors "$c/safetensors/micro_f16.safetensors"
cp st_bf16/config.json "$c/chatglm_config/micro.json"
# quantized checkpoints of the micro model (targets/quantized_ckpt.cpp reads layer 0's matrices)
for bits in 8 4 nf4; do
  "$bin" ckpt quantize --bits $bits --load ck --out q$bits.h5 >/dev/null
  cp q$bits.h5 "$c/quantized_ckpt/micro_q$bits.h5"
done
cat >"$c/chatglm_config/chatglm_6b_like.json" <<'JSON'
{
  "architectures": ["ChatGLMModel"], "model_type": "chatglm",
  "hidden_size": 64, "num_layers": 2, "num_attention_heads": 4, "vocab_size": 150,
  "layernorm_epsilon": 1e-05, "max_sequence_length": 64, "position_encoding_2d": false,
  "bos_token_id": 130004, "eos_token_id": 130005, "mask_token_id": 130000,
  "gmask_token_id": 130001, "pad_token_id": 3, "torch_dtype": "float16", "use_cache": true
}
JSON
# model.safetensors.index.json (the chatglm_config target reads its bytes as one too)
printf '{"metadata": {"total_size": 4096}, "weight_map": {"transformer.word_embeddings.weight": "model-00001-of-00002.safetensors", "lm_head.weight": "model-00002-of-00002.safetensors"}}\n' \
  >"$c/chatglm_config/model.safetensors.index.json"

# ---- a token store: tokenizer (vocab 400), manifest, shards; a sample file from it
bash "$root/data/corpus/make_sample_corpus.sh" corp 3 >/dev/null
head -n 12 corp/zh.txt >corp/zh_short.txt
"$bin" prep --input corp/en.txt corp/zh_short.txt "$c/jsonl/docs.jsonl" --out store --train-tokenizer \
  --vocab-size 400 --character-coverage 0.98 --shard-tokens 600 --tokenizer-threads 1 >/dev/null
cp store/tokenizer.model "$c/tokenizer/prep_vocab400.model"
cp store/manifest.txt "$c/token_manifest/prep.txt"
# token_shard input: u16 length, a one-shard manifest, the shard's bytes (targets/token_shard.cpp)
for shard in shard-00000-0000.h5 shard-00002-0000.h5; do
  line=$(grep "^shard $shard " store/manifest.txt)
  tokens=$(echo "$line" | awk '{print $3}')
  grep -v -e '^shard ' -e '^shard_count ' -e '^total_tokens ' store/manifest.txt >m.txt
  printf 'total_tokens %s\nshard_count 1\n%s\n' "$tokens" "$line" >>m.txt
  perl -e 'print pack("v", -s $ARGV[0])' m.txt >"$c/token_shard/${shard%.h5}.bin"
  cat m.txt "store/$shard" >>"$c/token_shard/${shard%.h5}.bin"
done
"$bin" data sample --store store --count 3 --seq-len 16 --out "$c/sample_file/samples.h5" >/dev/null

# ---- ChatGLM-6B's tokenizer (ice_text.model + tokenizer_config.json, two files in one input): a
# SentencePiece model in ice_text.model's layout (<unk> <s> </s> <pad>, then <n> <|tab|>
# <|blank_2..80|> [MASK] [gMASK] [sMASK] <sop> <eop> user-defined, identity normalizer) trained on
# the English sample and four Chinese lines, 300 pieces (6 KB; the real one is 2.7 MB); the configs
# of chatglm-6b (num_image_tokens 0) and one with the 20000 default, remove_space, an AddedToken.
syms="<n>,<|tab|>"
for n in $(seq 2 80); do syms="$syms,<|blank_$n|>"; done
{ cat corp/en.txt; head -n 4 corp/zh.txt; } >ice.txt
spm_train --input=ice.txt --model_prefix=ice --vocab_size=300 --hard_vocab_limit=false \
  --normalization_rule_name=identity --remove_extra_whitespaces=false --character_coverage=1 \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=3 --pad_piece='<pad>' \
  --user_defined_symbols="$syms,[MASK],[gMASK],[sMASK],<sop>,<eop>" >/dev/null 2>&1
cat >cfg0.json <<'JSON'
{
  "name_or_path": "THUDM/chatglm-6b",
  "bos_token": "<sop>",
  "eos_token": "<eop>",
  "end_token": "</s>",
  "gmask_token": "[gMASK]",
  "mask_token": "[MASK]",
  "pad_token": "<pad>",
  "unk_token": "<unk>",
  "remove_space": false,
  "do_lower_case": false,
  "tokenizer_class": "ChatGLMTokenizer",
  "num_image_tokens": 0,
  "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", null]}
}
JSON
cat >cfg20k.json <<'JSON'
{"bos_token": "<sop>", "eos_token": "<eop>", "end_token": "</s>", "gmask_token": "[gMASK]",
 "mask_token": {"content": "[MASK]", "lstrip": false, "rstrip": false}, "pad_token": "<pad>",
 "unk_token": "<unk>", "remove_space": true, "additional_special_tokens": ["<|tab|>", 7],
 "tokenizer_class": "ChatGLMTokenizer"}
JSON
two_files ice.model cfg0.json >"$c/chatglm_tokenizer/ice_vocab300.bin"
two_files ice.model cfg20k.json >"$c/chatglm_tokenizer/ice_vocab300_image_tokens.bin"

# ---- ChatGLM2/3's tokenizer (tokenizer.model + tokenizer_config.json, two files in one input): a
# SentencePiece BPE model with byte fallback (<unk> <s> </s>, no <pad>, as ChatGLM2's), 500 pieces
# (7 KB; the real one is 1 MB), trained on the same text with the identity normalizer, and one
# with a small precompiled charsmap of its own (full-width A-C and the ideographic space, 1 KB, where
# nmt_nfkc's is 240 KB: the fuzzer can reach the charsmap check); the configs of chatglm2-6b and
# chatglm3-6b (name_or_path tells the kind) and one that does not tell (--tokenizer-kind needed).
glm2_spm() {
  spm_train --input=ice.txt --model_prefix="$1" --model_type=bpe --vocab_size=500 --hard_vocab_limit=false \
    --byte_fallback=true --remove_extra_whitespaces=false --character_coverage=0.98 \
    --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 "${@:2}" >/dev/null 2>&1
}
glm2_spm glm2 --normalization_rule_name=identity
printf 'FF21\t41\nFF22\t42\nFF23\t43\n3000\t20\n' >rules.tsv
glm2_spm glm2_rules --normalization_rule_tsv=rules.tsv
for k in 2 3; do
  printf '{\n  "name_or_path": "THUDM/chatglm%s-6b",\n  "remove_space": false,\n  "do_lower_case": false,\n  "tokenizer_class": "ChatGLMTokenizer",\n  "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", null]}\n}\n' $k >glm$k.json
done
printf '{"tokenizer_class": "ChatGLMTokenizer", "padding_side": "left", "do_lower_case": false}\n' >glm_untold.json
two_files glm2.model glm2.json >"$c/chatglm2_tokenizer/bpe_vocab500_chatglm2.bin"
two_files glm2.model glm3.json >"$c/chatglm2_tokenizer/bpe_vocab500_chatglm3.bin"
two_files glm2_rules.model glm_untold.json >"$c/chatglm2_tokenizer/bpe_vocab500_charsmap_untold.bin"

# ---- ChatGLM3 replies with a tool call (targets/tool_call.cpp: model output), no final newline
printf '%s' "$(cat <<'TXT'
get_weather
```python
tool_call(city='北京', days=3, opts={"a": [1, 2.5, None, True]}, s=r"\d" 'x')
```
TXT
)" >"$c/tool_call/call.txt"
printf '\n%s' "$(cat <<'TXT'
Let me look.<|assistant|>w
```python
tool_call(a=(1,), b=0x1F, c=-.5e-3, d="""x
y""")
```
TXT
)" >"$c/tool_call/two_parts.txt"

# ---- quantized states (targets/quant_state.cpp's layout): int8 2x3, int4 2x4, NF4 2x64 plain
# and nested
q="$c/quant_state"
perl -e 'print pack("C q< q< V c6 V v2", 0, 2, 3, 6, 1, -2, 3, -127, 0, 127, 2, 0x3c00, 0x2000)' >"$q/int8_2x3.bin"
perl -e 'print pack("C q< q< V c4 V v2", 4, 2, 4, 4, 0x17, -0x72, 0x00, 0x7f, 2, 0x3c00, 0x0400)' >"$q/int4_2x4.bin"
perl -e 'print pack("C q< q< V C64 V f<2", 1, 2, 64, 64, (0..63), 2, 0.5, 2.0)' >"$q/nf4_2x64.bin"
perl -e 'print pack("C q< q< V C64 V C2 V f< f<", 3, 2, 64, 64, (0..63), 2, 10, 250, 1, 0.25, 0.01)' \
  >"$q/nf4_nested_2x64.bin"

# ---- adapters as PEFT writes them (tests/ckpt/adapter_files.py), two files in one input
# (fuzz_support.h split_two_files: u16 length, the first file, the second)
af="/usr/bin/python3 $root/tests/ckpt/adapter_files.py"
$af write-peft peft 2 8 24 2
two_files peft/adapter_config.json peft/adapter_model.safetensors >"$c/peft_adapter/lora_r2_qkv.bin"
$af write-ptuning pt '{"transformer.prefix_encoder.embedding.weight": [4, 32]}'
printf '{"model_type": "chatglm", "glm3d_family": "chatglm-6b", "pre_seq_len": 4, "prefix_projection": false, "num_layers": 2, "hidden_size": 8, "glm3d_kv_width": 8}\n' >pt/config.json
two_files pt/config.json pt/model.safetensors >"$c/ptuning/prefix4.bin"
: >empty.json
two_files empty.json pt/model.safetensors >"$c/ptuning/prefix4_no_config.bin"
$af write-ptuning ptp '{"transformer.prefix_encoder.embedding.weight": [4, 8], "transformer.prefix_encoder.trans.0.weight": [8, 8], "transformer.prefix_encoder.trans.0.bias": [8], "transformer.prefix_encoder.trans.2.weight": [32, 8], "transformer.prefix_encoder.trans.2.bias": [32]}'
two_files empty.json ptp/model.safetensors >"$c/ptuning/prefix4_projection.bin"

# ---- prompt/answer JSONL of prep sft (ADGEN's keys, a chat history), plain and gzip
printf '{"content": "类型#上衣*颜色#白色", "summary": "这件上衣是白色的。"}\n\n{"content": "q2", "summary": "r2", "history": [["q0", "r0"], ["q1", "r1"]]}\r\n{"content": 1, "summary": "bad"}\n{"content": "  ", "summary": "empty prompt"}\n' \
  >"$c/sft_jsonl/adgen.jsonl"
gzip -9 -n -c "$c/sft_jsonl/adgen.jsonl" >"$c/sft_jsonl/adgen.jsonl.gz"
# an SFT store (prep sft) with the seed tokenizer: manifest + train.h5 in one input (sft_store.cpp)
"$bin" prep sft --input "$c/sft_jsonl/adgen.jsonl" --history-key history --out sft \
  --tokenizer "$c/tokenizer/prep_vocab400.model" --max-source-len 6 --max-target-len 10 --skip-bad 10 >/dev/null 2>&1
two_files sft/sft_manifest.json sft/train.h5 >"$c/sft_store/adgen.bin"

# ---- the CPU profile of this machine (glm3d bench matmul: about a minute)
"$bin" bench matmul --out "$c/cpu_profile/bench_matmul.json" >/dev/null

du -sh "$c"
