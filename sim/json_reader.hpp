// Reading JSON configuration into typed structs, once, at the edge.
//
// An ObjectReader reads one JSON object: each getter names a key, its default (or that it is
// required), its allowed range or values, unit and description. It range-checks before
// narrowing, and records the field (JSON pointer, effective value, constraint, description) in
// the Document, so the fully resolved config and docs/configs.md come from the same reads.
// finish() reports every key that no getter asked for, with a did-you-mean hint. Problems are
// collected, not thrown; ConfigError carries them all, each as "file: /json/pointer: message".
//
// Example:
//   Document doc("configs/hw/default.json", json);
//   ObjectReader r = doc.root();
//   p.rows = r.u32("rows", p.rows, 1, 4096, "PEs", "array rows (inputs reduced per cycle)");
//   r.finish();
//   doc.throw_if_errors();
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace nmp::sim {

using Json = nlohmann::json;

struct ConfigIssue {
  std::string file;
  std::string pointer;  // JSON pointer, "" for the whole document
  std::string message;
  std::string text() const;
};

// Bad input: exit code 2.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  ConfigError(std::string file, std::string pointer, std::string message);
  const std::vector<ConfigIssue>& issues() const { return issues_; }

 private:
  ConfigError(std::vector<ConfigIssue> issues, int valid_utf8);
  std::vector<ConfigIssue> issues_;
};

// One recorded field: what it is, what it may be, and what it was resolved to.
struct FieldRecord {
  std::string pointer;  // with array indices as /0, /1, ...
  std::string type;     // "integer", "number", "boolean", "string", "one of ..."
  std::string constraint;
  std::string unit;
  std::string description;
  Json default_value;  // null when required
  Json value;
  std::string default_text;  // for docs, when the default follows from another field
};

class ObjectReader;

// A parsed JSON document with its file name, the pointers set from the command line, and the
// issues and fields found while reading it.
class Document {
 public:
  Document(std::string file, Json json);
  // Marks values that came from `--set key=value` so errors name the option, not the file.
  void mark_override(const std::string& pointer, const std::string& option_text);
  // The option that set `pointer` or a parent of it; "" if the file's value stands.
  std::string override_of(const std::string& pointer) const;

  ObjectReader root();
  const Json& json() const { return json_; }
  const std::string& file() const { return file_; }

  void error(const std::string& pointer, const std::string& message);
  bool has_errors() const { return !issues_.empty(); }
  const std::vector<ConfigIssue>& issues() const { return issues_; }
  void throw_if_errors() const;

  void record(FieldRecord field);
  // Documents the default of the field at `pointer` (read already) as `text`, e.g. "heads".
  void describe_default(const std::string& pointer, std::string text);
  // The fields read, moved out (the document's reading is done).
  std::vector<FieldRecord> take_fields() { return std::move(fields_); }
  // The resolved document: every recorded field at its pointer, defaults included.
  Json resolved() const;

 private:
  std::string file_;
  Json json_;
  std::map<std::string, std::string> overrides_;
  std::vector<ConfigIssue> issues_;
  std::vector<FieldRecord> fields_;
};

class ObjectReader {
 public:
  // `json` must outlive the reader. A non-object records an error and reads as empty.
  ObjectReader(Document& doc, const Json* json, std::string pointer);
  // Move-only: a copy would record reads the original never sees, and finish() would then
  // report read keys as unknown.
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;
  ObjectReader(ObjectReader&&) = default;
  ObjectReader& operator=(ObjectReader&&) = default;

  const std::string& pointer() const { return pointer_; }
  bool has(std::string_view key) const;

  uint64_t u64(std::string_view key, uint64_t def, uint64_t min, uint64_t max,
               std::string_view unit, std::string_view doc);
  uint64_t u64_required(std::string_view key, uint64_t min, uint64_t max, std::string_view unit,
                        std::string_view doc);
  uint32_t u32(std::string_view key, uint32_t def, uint32_t min, uint32_t max,
               std::string_view unit, std::string_view doc);
  uint32_t u32_required(std::string_view key, uint32_t min, uint32_t max, std::string_view unit,
                        std::string_view doc);
  double number(std::string_view key, double def, double min, double max, std::string_view unit,
                std::string_view doc);
  double number_required(std::string_view key, double min, double max, std::string_view unit,
                         std::string_view doc);
  bool boolean(std::string_view key, bool def, std::string_view doc);
  std::string string(std::string_view key, const std::string& def, std::string_view doc);
  std::string string_required(std::string_view key, std::string_view doc);
  // One of `names`; returns its index.
  size_t choice(std::string_view key, size_t def, const std::vector<std::string>& names,
                std::string_view doc);
  size_t choice_required(std::string_view key, const std::vector<std::string>& names,
                         std::string_view doc);

  // A nested object; absent reads as an empty object (all defaults) unless required.
  ObjectReader object(std::string_view key, std::string_view doc);
  ObjectReader object_required(std::string_view key, std::string_view doc);
  // An array of objects.
  std::vector<ObjectReader> objects_required(std::string_view key, size_t min_count,
                                             std::string_view doc);
  // An arbitrary value (for sub-documents with their own schema); marks the key as known.
  const Json* raw(std::string_view key);
  // Every key of the object, for maps whose keys are names (marks none as read).
  std::vector<std::string> keys() const;
  // Records a problem with this object or one of its keys ("" for the object itself).
  void error(std::string_view key, const std::string& message);
  // The default of `key` (read already) follows from another field: docs show `text`.
  void describe_default(std::string_view key, std::string text) {
    doc_->describe_default(child(key), std::move(text));
  }

  // Reports keys no getter asked for.
  void finish();

 private:
  const Json* lookup(std::string_view key);
  std::string child(std::string_view key) const;
  template <class T>
  T integer(std::string_view key, const T* def, uint64_t min, uint64_t max, std::string_view unit,
            std::string_view doc);
  double real(std::string_view key, const double* def, double min, double max,
              std::string_view unit, std::string_view doc);
  size_t pick(std::string_view key, const size_t* def, const std::vector<std::string>& names,
              std::string_view doc);
  void record(std::string_view key, std::string type, std::string constraint, std::string_view unit,
              std::string_view doc, Json def, Json value);

  Document* doc_;
  const Json* json_;
  std::string pointer_;
  std::set<std::string, std::less<>> read_;
};

// Parses JSON text; a syntax error names file:line:column.
Json parse_json_text(const std::string& text, const std::string& file);
Json parse_json_file(const std::string& path);

// A path named inside `file`: absolute as it is, otherwise relative to file's folder.
std::string path_beside(const std::string& file, const std::string& path);

// One key as a JSON pointer token (RFC 6901: '~' as ~0, '/' as ~1), and back.
std::string escape_pointer_token(std::string_view key);
std::string unescape_pointer_token(std::string_view token);

// The closest candidate to `word` within a small edit distance, or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace nmp::sim
