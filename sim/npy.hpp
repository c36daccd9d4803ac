// NumPy .npy files (format version 1.0), so dumped tensors open in any tool.
//
// Example:
//   write_npy("out/y.npy", NpyType::kInt8, y.data(), {tokens, features});
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace nmp::sim {

enum class NpyType { kInt8, kUint8, kInt32, kUint32, kFloat32, kFloat64 };

size_t npy_item_bytes(NpyType type);
// Throws std::runtime_error if the file cannot be written.
void write_npy(const std::string& path, NpyType type, const void* data,
               const std::vector<size_t>& shape);

}  // namespace nmp::sim
