// NumPy .npy files (format version 1.0), so dumped tensors open in any tool.
//
// Example:
//   write_npy("out/y.npy", NpyType::kInt8, y.data(), {tokens, features});
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace nmp::sim {

enum class NpyType { kInt8, kUint8, kUint16, kInt32, kUint32, kFloat32, kFloat64 };

size_t npy_item_bytes(NpyType type);
// Throws std::runtime_error if the file cannot be written.
void write_npy(const std::string& path, NpyType type, const void* data,
               const std::vector<size_t>& shape);

// A tensor read from a file (.npy or safetensors).
struct NpyArray {
  std::vector<size_t> shape;
  std::string descr;          // e.g. "<f4" (.npy) or "F16" (safetensors)
  std::vector<float> values;  // converted to float32 (exact for every integer type up to 16 bits)
};

// Little-endian elements to float32: kind 'f' (IEEE, 2/4/8 bytes), 'b' (bfloat16), 'i' or 'u'
// (integers of 1/2/4/8 bytes). Shared by the .npy and safetensors readers.
std::vector<float> decode_values(const char* p, size_t count, char kind, size_t size);

// Reads a C-order .npy file of float16/32/64 or (u)int8/16/32/64 values. A missing, malformed
// or truncated file is a ConfigError naming the file and what is wrong (exit code 2).
NpyArray read_npy(const std::string& path);

}  // namespace nmp::sim
