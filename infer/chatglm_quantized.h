#pragma once
// ChatGLM-6B's own quantized checkpoints (THUDM/chatglm-6b-int8, -int4: quantization.py's
// QuantizedLinear state dict in safetensors) to and from glm3d's quantized checkpoints:
//   transformer.layers.N.<matrix>.weight        I8 [out, in] (int8) or [out, in/2] (int4)
//   transformer.layers.N.<matrix>.weight_scale  F16 [out]
// the other tensors as in an unquantized export (model/chatglm_convert.h), config.json with
// "quantization_bit". The int8 / int4 arrays and the scales move unchanged, bit for bit.
#include <string>

namespace glm3d {

// DIR (config.json + *.safetensors) -> a glm3d quantized checkpoint. The bits come from
// config.json's quantization_bit, else from the weights' shapes. UsageError naming the file and
// tensor on anything missing or misshapen.
void import_chatglm_quantized(const std::string& dir, const std::string& out);

// A glm3d int8 / int4 checkpoint -> DIR as ChatGLM writes it; float tensors as `float_dtype`
// (f16 as ChatGLM's, bf16 or f32). NF4 has no ChatGLM form: UsageError.
void export_chatglm_quantized(const std::string& ckpt, const std::string& dir,
                              const std::string& float_dtype);

} // namespace glm3d
