#include "sim/npy.hpp"

#include <fstream>
#include <stdexcept>

namespace nmp::sim {
namespace {

const char* descr(NpyType type) {
  switch (type) {
    case NpyType::kInt8: return "|i1";
    case NpyType::kUint8: return "|u1";
    case NpyType::kInt32: return "<i4";
    case NpyType::kUint32: return "<u4";
    case NpyType::kFloat32: return "<f4";
    case NpyType::kFloat64: return "<f8";
  }
  return "";
}

}  // namespace

size_t npy_item_bytes(NpyType type) {
  switch (type) {
    case NpyType::kInt8:
    case NpyType::kUint8: return 1;
    case NpyType::kInt32:
    case NpyType::kUint32:
    case NpyType::kFloat32: return 4;
    case NpyType::kFloat64: return 8;
  }
  return 0;
}

void write_npy(const std::string& path, NpyType type, const void* data,
               const std::vector<size_t>& shape) {
  std::string dims;
  size_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    dims += (i ? ", " : "") + std::to_string(shape[i]);
    count *= shape[i];
  }
  if (shape.size() == 1) dims += ",";  // a 1-tuple
  std::string header = std::string("{'descr': '") + descr(type) +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64 bytes.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path);
  out.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out << header;
  out.write(static_cast<const char*>(data),
            static_cast<std::streamsize>(count * npy_item_bytes(type)));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace nmp::sim
