#include "sim/docs.hpp"

#include <cstdio>
#include <regex>
#include <set>

#include "isa/isa.hpp"
#include "workloads/layer_fields.hpp"

namespace nmp::sim {
namespace {

std::string kind_text(const isa::OperandSpec& op) {
  switch (op.kind) {
    case isa::OperandKind::kReg:
      return "register";
    case isa::OperandKind::kUnsigned:
      return "unsigned";
    case isa::OperandKind::kSigned:
      return "signed";
    case isa::OperandKind::kTarget:
      return "target";
    case isa::OperandKind::kEnum: {
      std::string s;
      for (size_t i = 0; i < op.enum_names.size(); ++i) {
        s += (i ? ", " : "") + std::to_string(i) + " = " + std::string(op.enum_names[i]);
      }
      return "enum (" + s + ")";
    }
  }
  return "?";
}

// A number as a workload writes it: an integer without a point.
std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", v);
  return text;
}

// A markdown table row.
std::string table_row(const std::vector<std::string>& cells) {
  std::string row = "|";
  for (const std::string& cell : cells) {
    row += ' ';
    row += cell;
    row += " |";
  }
  return row + "\n";
}

// The kinds that describe a field or tensor of this name, each kind once.
template <typename Member>
std::string kinds_with(const std::string& name, Member member) {
  std::string kinds;
  for (const workloads::LayerKindInfo& info : workloads::kLayerKinds) {
    for (const auto& f : workloads::layer_kind_fields(info.kind).*member) {
      if (f.name != name) continue;
      kinds += (kinds.empty() ? "" : ", ") + std::string(info.name);
      break;
    }
  }
  return kinds;
}

}  // namespace

std::string layer_fields_markdown() {
  std::string s =
      "| field | layer types | type | allowed | default | unit | meaning |\n"
      "|---|---|---|---|---|---|---|\n";
  std::set<std::string> seen;
  const workloads::LayerSpec defaults;
  for (const workloads::LayerKindInfo& info : workloads::kLayerKinds) {
    const workloads::LayerKindFields& kind = workloads::layer_kind_fields(info.kind);
    for (const workloads::LayerField& f : kind.fields) {
      if (!seen.insert(f.name).second) continue;
      std::string type = "integer", allowed, def;
      if (f.type == workloads::FieldType::kChoice) {
        type = "one of ";
        for (size_t i = 0; i < f.choices.size(); ++i) type += (i ? ", " : "") + f.choices[i];
        if (!f.required) def = "`" + f.choices[static_cast<size_t>(f.get(defaults))] + "`";
      } else {
        if (f.type == workloads::FieldType::kNumber) type = "number";
        allowed = "[" + number_text(f.low) + ", " + number_text(f.high) + "]";
        if (!f.required) def = "`" + number_text(f.get(defaults)) + "`";
      }
      s += table_row({"`/layers/*/" + std::string(f.name) + "`",
                      kinds_with(f.name, &workloads::LayerKindFields::fields), type, allowed,
                      f.required ? "required" : def, f.unit, f.doc});
    }
    for (const workloads::LayerTensor& t : kind.tensors) {
      if (!seen.insert(t.name).second) continue;
      s += table_row({"`/layers/*/" + std::string(t.name) + "`",
                      kinds_with(t.name, &workloads::LayerKindFields::tensors),
                      "distribution or file", "out_features values",
                      "normal, mean " + number_text(t.mean) + ", std " + number_text(t.std), "",
                      t.doc});
    }
  }
  return s + "\n";
}

std::string isa_reference_markdown() {
  std::string s;
  for (const isa::InstrSpec& spec : isa::instruction_table()) {
    char opcode[8];
    std::snprintf(opcode, sizeof opcode, "0x%02x", static_cast<unsigned>(spec.opcode));
    s += "### `" + std::string(spec.mnemonic) + "`\n\n";
    s += "Opcode " + std::string(opcode) + ", executed by " +
         std::string(isa::unit_name(spec.unit)) + ".\n\n";
    s += "- Semantics: " + std::string(spec.semantics) + "\n";
    s += "- Timing: " + std::string(spec.timing) + "\n\n";
    if (!spec.operands.empty()) {
      s += "| operand | bits | kind | meaning |\n|---|---|---|---|\n";
      for (const isa::OperandSpec& op : spec.operands) {
        s += "| `" + std::string(op.name) + "` | [" + std::to_string(op.lsb) + ", " +
             std::to_string(op.lsb + op.width) + ") | " + kind_text(op) + " | " +
             std::string(op.doc) + " |\n";
      }
      s += "\n";
    }
  }
  return s;
}

std::string fields_markdown(const std::string& title, const std::vector<FieldRecord>& fields) {
  std::string s = "## " + title +
                  "\n\n| field | type | allowed | default | unit | meaning |\n"
                  "|---|---|---|---|---|---|\n";
  std::set<std::string> seen;
  const std::regex index("/[0-9]+(/|$)");
  for (const FieldRecord& f : fields) {
    // One row per field of an array's elements: /layers/0/x and /layers/1/x are /layers/*/x.
    const std::string pointer = std::regex_replace(f.pointer, index, "/*$1");
    if (!seen.insert(pointer).second) continue;
    s += "| `" + pointer + "` | " + f.type + " | " + f.constraint + " | " +
         (!f.default_text.empty()     ? f.default_text
          : f.default_value.is_null() ? "required"
                                      : "`" + f.default_value.dump() + "`") +
         " | " + f.unit + " | " + f.description + " |\n";
  }
  return s + "\n";
}

}  // namespace nmp::sim
