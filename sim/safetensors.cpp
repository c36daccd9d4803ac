#include "sim/safetensors.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "sim/input_limits.hpp"
#include "sim/json_reader.hpp"

namespace nmp::sim {
namespace {

// No two tensors share a byte (the format's rule: a file whose tensors overlap is malformed,
// whichever tensor is asked for). Whether the asked tensor lies in the data is checked apart.
template <class Fail>
void check_layout(const Json& header, const Fail& fail) {
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (const auto& [name, t] : header.items()) {
    if (name == "__metadata__") continue;
    const Json* off = t.is_object() && t.contains("data_offsets") ? &t["data_offsets"] : nullptr;
    if (!off || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      fail("tensor \"" + name + "\" has malformed data_offsets");
    }
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    if (end < begin) {
      fail("tensor \"" + name + "\": data_offsets [" + std::to_string(begin) + ", " +
           std::to_string(end) + ") end before they begin");
    }
    spans.emplace_back(begin, end);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first < spans[i - 1].second) {
      fail("two tensors overlap: data_offsets [" + std::to_string(spans[i - 1].first) + ", " +
           std::to_string(spans[i - 1].second) + ") and [" + std::to_string(spans[i].first) + ", " +
           std::to_string(spans[i].second) + ")");
    }
  }
}

}  // namespace

NpyArray read_safetensors(const std::string& path, const std::string& tensor) {
  const uint64_t file_size = check_input_file(path, max_host_memory_bytes());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, "", "cannot open the file");
  auto fail = [&](const std::string& why) {
    throw ConfigError(path, "", "not a valid safetensors file: " + why);
  };
  if (file_size < 8) fail("shorter than its 8-byte header length");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t{len_bytes[i]} << (8 * i);
  if (header_len > kMaxSafetensorsHeaderBytes) {
    fail("the header length " + std::to_string(header_len) + " exceeds the format's limit of " +
         std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  }
  if (header_len > file_size - 8) {
    fail("the header length " + std::to_string(header_len) + " exceeds the file (" +
         std::to_string(file_size) + " bytes)");
  }
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  Json h;
  try {
    h = parse_json_text(header, "header");
  } catch (const ConfigError& e) {
    fail(std::string("malformed JSON header: ") + e.what());
  }
  if (!h.is_object()) fail("the header is not a JSON object");
  check_layout(h, fail);
  if (!h.contains(tensor)) {
    std::string names;
    int shown = 0;
    for (const auto& [name, v] : h.items()) {
      if (name == "__metadata__") continue;
      if (shown++ < 8) names += (names.empty() ? "" : ", ") + name;
    }
    throw ConfigError(
        path, "",
        "no tensor \"" + tensor + "\" (it has: " + names + (shown > 8 ? ", ..." : "") + ")");
  }
  const nlohmann::json& t = h[tensor];
  if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() || !t.contains("shape") ||
      !t["shape"].is_array() || !t.contains("data_offsets") || !t["data_offsets"].is_array() ||
      t["data_offsets"].size() != 2) {
    fail("tensor \"" + tensor + "\" lacks dtype, shape or data_offsets");
  }
  static const std::map<std::string, std::pair<char, size_t>> kTypes = {
      {"F64", {'f', 8}},  {"F32", {'f', 4}}, {"F16", {'f', 2}},
      {"BF16", {'b', 2}}, {"I64", {'i', 8}}, {"I32", {'i', 4}},
      {"I16", {'i', 2}},  {"I8", {'i', 1}},  {"U8", {'u', 1}}};
  NpyArray a;
  a.descr = t["dtype"].get<std::string>();
  const auto type = kTypes.find(a.descr);
  if (type == kTypes.end()) fail("tensor \"" + tensor + "\" has unsupported dtype " + a.descr);
  uint64_t count = 1;
  for (const auto& d : t["shape"]) {
    if (!d.is_number_unsigned()) fail("tensor \"" + tensor + "\" has a malformed shape");
    const uint64_t n = d.get<uint64_t>();
    if (n != 0 && count > (uint64_t{1} << 40) / n) fail("the shape is too large");
    count *= n;
    a.shape.push_back(n);
  }
  const auto& off = t["data_offsets"];
  if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    fail("tensor \"" + tensor + "\" has malformed data_offsets");
  const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
  const uint64_t item = type->second.second;
  if (end < begin || end - begin != count * item) {
    fail("tensor \"" + tensor + "\": data_offsets [" + std::to_string(begin) + ", " +
         std::to_string(end) + ") do not hold " + std::to_string(count) + " values of " +
         std::to_string(item) + " bytes");
  }
  const uint64_t data_start = 8 + header_len;
  if (end > file_size - data_start) {
    fail("truncated data: tensor \"" + tensor + "\" ends at byte " + std::to_string(end) +
         " of the data, the file holds " + std::to_string(file_size - data_start));
  }
  std::string bytes(end - begin, '\0');
  in.seekg(static_cast<std::streamoff>(data_start + begin));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!in) fail("cannot read the data of tensor \"" + tensor + "\"");
  a.values = decode_values(bytes.data(), count, type->second.first, item);
  return a;
}

}  // namespace nmp::sim
