#include "sim/json_reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "sim/input_limits.hpp"

namespace nmp::sim {

std::string ConfigIssue::text() const {
  std::string s = file;
  if (!pointer.empty()) s += ": " + pointer;
  return s + ": " + message;
}

std::string escape_pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape_pointer_token(std::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[++i] == '0' ? '~' : '/';
    } else {
      out += token[i];
    }
  }
  return out;
}

namespace {

std::string join_issues(const std::vector<ConfigIssue>& issues) {
  std::string s;
  for (const ConfigIssue& i : issues) s += (s.empty() ? "" : "\n") + i.text();
  return s;
}

std::string quoted(const Json& j) { return j.dump(); }

// "[min, max]" as an ostream writes doubles by default ("%g"), without building a stream: a
// technology file reads hundreds of numbers, and each stream's locale set-up cost more than
// the rest of the reading.
std::string range_text(double min, double max) {
  char text[64];
  std::snprintf(text, sizeof text, "[%g, %g]", min, max);
  return text;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s;
}

}  // namespace

namespace {

// Messages quote inputs, which may hold bytes that are not UTF-8; they travel through JSON
// (sweep databases, reports), so each invalid byte becomes U+FFFD.
std::string valid_utf8(const std::string& text) {
  return Json::parse(Json(text).dump(-1, ' ', false, Json::error_handler_t::replace))
      .get<std::string>();
}

std::vector<ConfigIssue> with_valid_utf8(std::vector<ConfigIssue> issues) {
  for (ConfigIssue& i : issues) {
    i.file = valid_utf8(i.file);
    i.pointer = valid_utf8(i.pointer);
    i.message = valid_utf8(i.message);
  }
  return issues;
}

}  // namespace

ConfigError::ConfigError(std::vector<ConfigIssue> issues)
    : ConfigError(with_valid_utf8(std::move(issues)), 0) {}

ConfigError::ConfigError(std::vector<ConfigIssue> issues, int /*valid*/)
    : std::runtime_error(join_issues(issues)), issues_(std::move(issues)) {}

ConfigError::ConfigError(std::string file, std::string pointer, std::string message)
    : ConfigError(
          std::vector<ConfigIssue>{{std::move(file), std::move(pointer), std::move(message)}}) {}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

Document::Document(std::string file, Json json) : file_(std::move(file)), json_(std::move(json)) {}

void Document::mark_override(const std::string& pointer, const std::string& option_text) {
  overrides_[pointer] = option_text;
}

std::string Document::override_of(const std::string& pointer) const {
  for (const auto& [set_pointer, option] : overrides_) {
    if (pointer == set_pointer || pointer.rfind(set_pointer + "/", 0) == 0) return option;
  }
  return "";
}

ObjectReader Document::root() { return ObjectReader(*this, &json_, ""); }

void Document::error(const std::string& pointer, const std::string& message) {
  // An error inside a value given with --set names the option.
  const std::string option = override_of(pointer);
  issues_.push_back({option.empty() ? file_ : option, pointer, message});
}

void Document::throw_if_errors() const {
  if (!issues_.empty()) throw ConfigError(issues_);
}

void Document::record(FieldRecord field) { fields_.push_back(std::move(field)); }

void Document::describe_default(const std::string& pointer, std::string text) {
  for (auto it = fields_.rbegin(); it != fields_.rend(); ++it) {
    if (it->pointer == pointer) {
      it->default_text = std::move(text);
      return;
    }
  }
}

Json Document::resolved() const {
  Json out = Json::object();
  for (const FieldRecord& f : fields_) out[Json::json_pointer(f.pointer)] = f.value;
  return out;
}

ObjectReader::ObjectReader(Document& doc, const Json* json, std::string pointer)
    : doc_(&doc), json_(json), pointer_(std::move(pointer)) {
  if (json_ && !json_->is_object()) {
    doc_->error(pointer_, "expected an object, got " + quoted(*json_));
    json_ = nullptr;
  }
}

bool ObjectReader::has(std::string_view key) const {
  return json_ && json_->find(std::string(key)) != json_->end();
}

std::string ObjectReader::child(std::string_view key) const {
  return pointer_ + "/" + escape_pointer_token(key);
}

const Json* ObjectReader::lookup(std::string_view key) {
  read_.insert(std::string(key));
  if (!json_) return nullptr;
  const auto it = json_->find(std::string(key));
  return it == json_->end() ? nullptr : &*it;
}

void ObjectReader::record(std::string_view key, std::string type, std::string constraint,
                          std::string_view unit, std::string_view doc, Json def, Json value) {
  doc_->record({child(key), std::move(type), std::move(constraint), std::string(unit),
                std::string(doc), std::move(def), std::move(value), std::string()});
}

template <class T>
T ObjectReader::integer(std::string_view key, const T* def, uint64_t min, uint64_t max,
                        std::string_view unit, std::string_view doc) {
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  const Json* j = lookup(key);
  T value = def ? *def : static_cast<T>(min);
  if (!j) {
    if (!def) doc_->error(child(key), "missing required field: expected an integer in " + range);
  } else if (!j->is_number_integer() || (!j->is_number_unsigned() && j->get<int64_t>() < 0)) {
    // Parsed text gives unsigned for non-negative integers; JSON built in code may be signed.
    doc_->error(child(key), "expected an integer in " + range + ", got " + quoted(*j));
  } else {
    const uint64_t v = j->get<uint64_t>();
    if (v < min || v > max) {
      doc_->error(child(key), "expected an integer in " + range + ", got " + quoted(*j));
    } else {
      value = static_cast<T>(v);
    }
  }
  record(key, "integer", range, unit, doc, def ? Json(*def) : Json(), Json(value));
  return value;
}

uint64_t ObjectReader::u64(std::string_view key, uint64_t def, uint64_t min, uint64_t max,
                           std::string_view unit, std::string_view doc) {
  return integer<uint64_t>(key, &def, min, max, unit, doc);
}
uint64_t ObjectReader::u64_required(std::string_view key, uint64_t min, uint64_t max,
                                    std::string_view unit, std::string_view doc) {
  return integer<uint64_t>(key, nullptr, min, max, unit, doc);
}
uint32_t ObjectReader::u32(std::string_view key, uint32_t def, uint32_t min, uint32_t max,
                           std::string_view unit, std::string_view doc) {
  return integer<uint32_t>(key, &def, min, max, unit, doc);
}
uint32_t ObjectReader::u32_required(std::string_view key, uint32_t min, uint32_t max,
                                    std::string_view unit, std::string_view doc) {
  return integer<uint32_t>(key, nullptr, min, max, unit, doc);
}

double ObjectReader::real(std::string_view key, const double* def, double min, double max,
                          std::string_view unit, std::string_view doc) {
  const std::string range = range_text(min, max);
  const Json* j = lookup(key);
  double value = def ? *def : min;
  if (!j) {
    if (!def) doc_->error(child(key), "missing required field: expected a number in " + range);
  } else if (!j->is_number()) {
    doc_->error(child(key), "expected a number in " + range + ", got " + quoted(*j));
  } else {
    const double v = j->get<double>();
    if (!std::isfinite(v) || v < min || v > max) {
      doc_->error(child(key), "expected a number in " + range + ", got " + quoted(*j));
    } else {
      value = v;
    }
  }
  record(key, "number", range, unit, doc, def ? Json(*def) : Json(), Json(value));
  return value;
}

double ObjectReader::number(std::string_view key, double def, double min, double max,
                            std::string_view unit, std::string_view doc) {
  return real(key, &def, min, max, unit, doc);
}
double ObjectReader::number_required(std::string_view key, double min, double max,
                                     std::string_view unit, std::string_view doc) {
  return real(key, nullptr, min, max, unit, doc);
}

bool ObjectReader::boolean(std::string_view key, bool def, std::string_view doc) {
  const Json* j = lookup(key);
  bool value = def;
  if (j) {
    if (j->is_boolean()) {
      value = j->get<bool>();
    } else {
      doc_->error(child(key), "expected true or false, got " + quoted(*j));
    }
  }
  record(key, "boolean", "true or false", "", doc, Json(def), Json(value));
  return value;
}

std::string ObjectReader::string(std::string_view key, const std::string& def,
                                 std::string_view doc) {
  const Json* j = lookup(key);
  std::string value = def;
  if (j) {
    if (j->is_string()) {
      value = j->get<std::string>();
    } else {
      doc_->error(child(key), "expected a string, got " + quoted(*j));
    }
  }
  record(key, "string", "", "", doc, Json(def), Json(value));
  return value;
}

std::string ObjectReader::string_required(std::string_view key, std::string_view doc) {
  const Json* j = lookup(key);
  std::string value;
  if (!j) {
    doc_->error(child(key), "missing required field: expected a string");
  } else if (!j->is_string()) {
    doc_->error(child(key), "expected a string, got " + quoted(*j));
  } else {
    value = j->get<std::string>();
  }
  record(key, "string", "", "", doc, Json(), Json(value));
  return value;
}

size_t ObjectReader::pick(std::string_view key, const size_t* def,
                          const std::vector<std::string>& names, std::string_view doc) {
  const Json* j = lookup(key);
  size_t value = def ? *def : 0;
  const std::string expected = "expected one of " + join_names(names);
  if (!j) {
    if (!def) doc_->error(child(key), "missing required field: " + expected);
  } else if (!j->is_string()) {
    doc_->error(child(key), expected + ", got " + quoted(*j));
  } else {
    const auto s = j->get<std::string>();
    const auto it = std::find(names.begin(), names.end(), s);
    if (it == names.end()) {
      const std::string hint = did_you_mean(s, names);
      doc_->error(child(key), expected + ", got " + quoted(*j) +
                                  (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"));
    } else {
      value = static_cast<size_t>(it - names.begin());
    }
  }
  record(key, "one of " + join_names(names), "", "", doc, def ? Json(names[*def]) : Json(),
         Json(names[value]));
  return value;
}

size_t ObjectReader::choice(std::string_view key, size_t def, const std::vector<std::string>& names,
                            std::string_view doc) {
  return pick(key, &def, names, doc);
}
size_t ObjectReader::choice_required(std::string_view key, const std::vector<std::string>& names,
                                     std::string_view doc) {
  return pick(key, nullptr, names, doc);
}

ObjectReader ObjectReader::object(std::string_view key, std::string_view /*doc*/) {
  const Json* j = lookup(key);
  return ObjectReader(*doc_, j, child(key));
}

ObjectReader ObjectReader::object_required(std::string_view key, std::string_view /*doc*/) {
  const Json* j = lookup(key);
  if (!j) doc_->error(child(key), "missing required object");
  return ObjectReader(*doc_, j, child(key));
}

std::vector<ObjectReader> ObjectReader::objects_required(std::string_view key, size_t min_count,
                                                         std::string_view /*doc*/) {
  const Json* j = lookup(key);
  std::vector<ObjectReader> out;
  if (!j) {
    doc_->error(child(key), "missing required array");
  } else if (!j->is_array()) {
    doc_->error(child(key), "expected an array of objects, got " + quoted(*j));
  } else if (j->size() < min_count) {
    doc_->error(child(key), "expected at least " + std::to_string(min_count) + " entries");
  } else {
    for (size_t i = 0; i < j->size(); ++i) {
      out.emplace_back(*doc_, &(*j)[i], child(key) + "/" + std::to_string(i));
    }
  }
  return out;
}

const Json* ObjectReader::raw(std::string_view key) { return lookup(key); }

std::vector<std::string> ObjectReader::keys() const {
  std::vector<std::string> out;
  if (json_) {
    for (const auto& item : json_->items()) out.push_back(item.key());
  }
  return out;
}

void ObjectReader::error(std::string_view key, const std::string& message) {
  doc_->error(key.empty() ? pointer_ : child(key), message);
}

void ObjectReader::finish() {
  if (!json_) return;
  const std::vector<std::string> known(read_.begin(), read_.end());
  for (const auto& item : json_->items()) {
    if (read_.count(item.key())) continue;
    const std::string hint = did_you_mean(item.key(), known);
    doc_->error(
        child(item.key()),
        "unknown field" + (hint.empty() ? std::string(" (known here: ") + join_names(known) + ")"
                                        : " (did you mean \"" + hint + "\"?)"));
  }
}

namespace {

// "file:line:column" of byte `offset` of `text`.
std::string location(const std::string& text, size_t offset, const std::string& file) {
  size_t line = 1, column = 1;
  const size_t end = std::min(offset, text.size());
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

// Refuses nesting deeper than kMaxJsonDepth before nlohmann builds (and recursively copies)
// the document.
void check_depth(const std::string& text, const std::string& file) {
  unsigned depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        throw ConfigError(location(text, i, file), "",
                          "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

}  // namespace

Json parse_json_text(const std::string& text, const std::string& file) {
  check_depth(text, file);
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    // nlohmann's message: "[json.exception.parse_error.101] parse error at line ..., column ...:
    // syntax error while parsing value - invalid literal; last read: ..."; keep the reason.
    const size_t reason = what.find("syntax error");
    if (reason != std::string::npos) what = what.substr(reason);
    throw ConfigError(location(text, e.byte == 0 ? 0 : e.byte - 1, file), "",
                      "malformed JSON: " + what);
  } catch (const Json::out_of_range& e) {
    // A number beyond double's range (1e400): nlohmann names the literal but not where it is.
    std::string what = e.what();
    const size_t q1 = what.find('\''), q2 = what.rfind('\'');
    const std::string literal = q1 < q2 ? what.substr(q1 + 1, q2 - q1 - 1) : "";
    const size_t at = literal.empty() ? std::string::npos : text.find(literal);
    throw ConfigError(at == std::string::npos ? file : location(text, at, file), "",
                      "number out of range: " + (literal.empty() ? what : literal) +
                          " does not fit a 64-bit floating-point number");
  }
}

Json parse_json_file(const std::string& path) {
  return parse_json_text(read_input_file(path), path);
}

std::string path_beside(const std::string& file, const std::string& path) {
  const std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(file).parent_path() / p).lexically_normal().string();
}

}  // namespace nmp::sim
