#include "sim/npy.hpp"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "hw_models/arith/minifloat.hpp"
#include "sim/input_limits.hpp"
#include "sim/json_reader.hpp"

namespace nmp::sim {
namespace {

const char* descr(NpyType type) {
  switch (type) {
    case NpyType::kInt8:
      return "|i1";
    case NpyType::kUint8:
      return "|u1";
    case NpyType::kUint16:
      return "<u2";
    case NpyType::kInt32:
      return "<i4";
    case NpyType::kUint32:
      return "<u4";
    case NpyType::kFloat32:
      return "<f4";
    case NpyType::kFloat64:
      return "<f8";
  }
  return "";
}

}  // namespace

size_t npy_item_bytes(NpyType type) {
  switch (type) {
    case NpyType::kInt8:
    case NpyType::kUint8:
      return 1;
    case NpyType::kUint16:
      return 2;
    case NpyType::kInt32:
    case NpyType::kUint32:
    case NpyType::kFloat32:
      return 4;
    case NpyType::kFloat64:
      return 8;
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

std::vector<float> decode_values(const char* p, size_t count, char kind, size_t size) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i, p += size) {
    uint64_t raw = 0;
    std::memcpy(&raw, p, size);
    double v = 0;
    if (kind == 'f') {
      if (size == 2) v = arith::to_double(arith::kFp16.decode(static_cast<uint32_t>(raw)));
      if (size == 4) {
        float f;
        std::memcpy(&f, &raw, 4);
        v = f;
      }
      if (size == 8) std::memcpy(&v, &raw, 8);
    } else if (kind == 'b') {
      v = arith::to_double(arith::kBf16.decode(static_cast<uint32_t>(raw)));
    } else if (kind == 'u') {
      v = static_cast<double>(raw);
    } else {
      const int shift = static_cast<int>(64 - 8 * size);
      v = static_cast<double>(static_cast<int64_t>(raw << shift) >> shift);
    }
    values[i] = static_cast<float>(v);
  }
  return values;
}

NpyArray read_npy(const std::string& path) {
  const std::string bytes = read_input_file(path, max_host_memory_bytes());
  auto fail = [&](const std::string& why) {
    throw ConfigError(path, "", "not a valid .npy file: " + why);
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    fail("missing the \\x93NUMPY magic");
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len =
        static_cast<uint8_t>(bytes[8]) | static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail("truncated header");
    for (int i = 0; i < 4; ++i)
      header_len |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    fail("unsupported version " + std::to_string(major));
  }
  if (bytes.size() < header_start + header_len) fail("truncated header");
  const std::string header = bytes.substr(header_start, header_len);
  auto field = [&](const std::string& key) {
    const size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) fail("the header has no '" + key + "'");
    const size_t colon = header.find(':', k);
    if (colon == std::string::npos) fail("malformed header");
    return colon + 1;
  };
  NpyArray a;
  {
    const size_t at = field("descr");
    const size_t q1 = header.find('\'', at), q2 = header.find('\'', q1 + 1);
    if (q1 == std::string::npos || q2 == std::string::npos) fail("malformed descr");
    a.descr = header.substr(q1 + 1, q2 - q1 - 1);
  }
  {
    const size_t at = field("fortran_order");
    const size_t value = header.find_first_not_of(' ', at);
    if (value != std::string::npos && header.compare(value, 4, "True") == 0) {
      fail("Fortran-order arrays are not supported");
    }
  }
  {
    const size_t at = field("shape");
    const size_t open = header.find('(', at), close = header.find(')', open);
    if (open == std::string::npos || close == std::string::npos) fail("malformed shape");
    std::string dims = header.substr(open + 1, close - open - 1);
    size_t start = 0;
    while (start < dims.size()) {
      size_t end = dims.find(',', start);
      if (end == std::string::npos) end = dims.size();
      const std::string d = dims.substr(start, end - start);
      if (d.find_first_not_of(" ") != std::string::npos) {
        const size_t first = d.find_first_not_of(' ');
        const size_t last = d.find_last_not_of(' ');
        const std::string digits = d.substr(first, last - first + 1);
        if (digits.empty() || digits.size() > 15 ||
            digits.find_first_not_of("0123456789") != std::string::npos) {
          fail("malformed shape");
        }
        a.shape.push_back(std::stoull(digits));
      }
      start = end + 1;
    }
  }
  size_t count = 1;
  for (size_t d : a.shape) {
    if (d != 0 && count > (size_t{1} << 40) / d) fail("the shape is too large");
    count *= d;
  }
  const std::string& t = a.descr;
  if (t.size() < 3 || (t[0] != '<' && t[0] != '|' && t[0] != '=')) {
    fail("unsupported dtype '" + t + "' (little-endian float or integer expected)");
  }
  const char kind = t[1];
  const std::string size_text = t.substr(2);
  const size_t size = size_text.size() == 1 && size_text[0] >= '1' && size_text[0] <= '8'
                          ? static_cast<size_t>(size_text[0] - '0')
                          : 0;
  if (!((kind == 'f' && (size == 2 || size == 4 || size == 8)) ||
        ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)))) {
    fail("unsupported dtype '" + t + "'");
  }
  const size_t data_start = header_start + header_len;
  if (bytes.size() - data_start < count * size) {
    fail("truncated data: " + std::to_string(count) + " values of " + std::to_string(size) +
         " bytes need " + std::to_string(count * size) + " bytes, the file has " +
         std::to_string(bytes.size() - data_start));
  }
  a.values = decode_values(bytes.data() + data_start, count, kind, size);
  return a;
}

}  // namespace nmp::sim
