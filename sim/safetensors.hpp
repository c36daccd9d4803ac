// safetensors files (Hugging Face): an 8-byte little-endian header length, a JSON header naming
// each tensor's dtype, shape and byte range, then the data.
//
// Example:
//   NpyArray w = read_safetensors("model.safetensors", "model.layers.0.mlp.up_proj.weight");
#pragma once

#include <string>

#include "sim/npy.hpp"

namespace nmp::sim {

// Reads one tensor (F64, F32, F16, BF16, I64, I32, I16, I8, U8) as float32. A missing file or
// tensor, a malformed header, an unsupported dtype or a truncated file is a ConfigError naming
// the file and what is wrong (exit code 2).
NpyArray read_safetensors(const std::string& path, const std::string& tensor);

}  // namespace nmp::sim
