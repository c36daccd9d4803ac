// Reference text generated from the code's own tables, for docs/isa.md and docs/configs.md.
//
// Example:
//   std::cout << isa_reference_markdown();
#pragma once

#include <string>
#include <vector>

#include "sim/json_reader.hpp"

namespace nmp::sim {

// Every instruction: opcode, unit, operands with their bit fields, semantics and timing.
std::string isa_reference_markdown();
// The fields the vector layer kinds describe (workloads/layer_fields.hpp), each once.
std::string layer_fields_markdown();
// A table of config fields as recorded while reading a file.
std::string fields_markdown(const std::string& title, const std::vector<FieldRecord>& fields);

}  // namespace nmp::sim
