#include "isa/assembler.hpp"

#include <cctype>
#include <map>
#include <optional>
#include <set>

namespace nmp::isa {

AsmError::AsmError(int line, int column, const std::string& message)
    : std::runtime_error(std::to_string(line) + ":" + std::to_string(column) + ": " + message),
      line_(line),
      column_(column) {}

namespace {

// A piece of a line with the 1-based column where it starts.
struct Piece {
  std::string_view text;
  int column = 1;
};

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

Piece trim(Piece p) {
  size_t b = 0;
  while (b < p.text.size() && std::isspace(static_cast<unsigned char>(p.text[b]))) ++b;
  size_t e = p.text.size();
  while (e > b && std::isspace(static_cast<unsigned char>(p.text[e - 1]))) --e;
  return {p.text.substr(b, e - b), p.column + static_cast<int>(b)};
}

std::vector<Piece> split_commas(Piece p) {
  std::vector<Piece> out;
  size_t start = 0;
  for (size_t i = 0; i <= p.text.size(); ++i) {
    if (i == p.text.size() || p.text[i] == ',') {
      out.push_back(trim({p.text.substr(start, i - start), p.column + static_cast<int>(start)}));
      start = i + 1;
    }
  }
  return out;
}

struct Symbols {
  std::map<std::string, int64_t, std::less<>> constants;
  std::map<std::string, int64_t, std::less<>> labels;
};

// Recursive descent over + - * ( ) on 64-bit integers, with overflow checks.
class Expression {
 public:
  Expression(Piece piece, int line, const Symbols& symbols)
      : piece_(piece), line_(line), symbols_(symbols) {}

  int64_t evaluate() {
    if (piece_.text.empty()) fail(0, "expected a value");
    const int64_t v = sum();
    skip_space();
    if (pos_ < piece_.text.size()) fail(pos_, "unexpected '" + std::string(1, peek()) + "'");
    return v;
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& message) const {
    throw AsmError(line_, piece_.column + static_cast<int>(at), message);
  }
  char peek() const { return pos_ < piece_.text.size() ? piece_.text[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < piece_.text.size() && std::isspace(static_cast<unsigned char>(peek()))) ++pos_;
  }

  int64_t sum() {
    int64_t v = product();
    for (;;) {
      skip_space();
      const char op = peek();
      if (op != '+' && op != '-') return v;
      const size_t at = pos_++;
      const int64_t rhs = product();
      if (op == '+' ? __builtin_add_overflow(v, rhs, &v) : __builtin_sub_overflow(v, rhs, &v)) {
        fail(at, "value overflows 64 bits");
      }
    }
  }

  int64_t product() {
    int64_t v = unary();
    for (;;) {
      skip_space();
      if (peek() != '*') return v;
      const size_t at = pos_++;
      if (__builtin_mul_overflow(v, unary(), &v)) fail(at, "value overflows 64 bits");
    }
  }

  // Nesting (parentheses, unary signs) is limited so that no expression exhausts the stack.
  int64_t unary() {
    skip_space();
    if (++depth_ > kMaxDepth) {
      fail(pos_, "expression nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    int64_t v = 0;
    if (peek() == '-') {
      const size_t at = pos_++;
      if (__builtin_sub_overflow(int64_t{0}, unary(), &v)) fail(at, "value overflows 64 bits");
    } else if (peek() == '+') {
      ++pos_;
      v = unary();
    } else {
      v = atom();
    }
    --depth_;
    return v;
  }

  int64_t atom() {
    skip_space();
    const size_t start = pos_;
    if (peek() == '(') {
      ++pos_;
      const int64_t v = sum();
      skip_space();
      if (peek() != ')') fail(pos_, "expected ')'");
      ++pos_;
      return v;
    }
    if (std::isdigit(static_cast<unsigned char>(peek()))) return number(start);
    if (is_ident_start(peek())) {
      while (pos_ < piece_.text.size() && is_ident_char(peek())) ++pos_;
      const std::string_view name = piece_.text.substr(start, pos_ - start);
      if (auto it = symbols_.constants.find(name); it != symbols_.constants.end()) {
        return it->second;
      }
      if (auto it = symbols_.labels.find(name); it != symbols_.labels.end()) return it->second;
      fail(start, "unknown name '" + std::string(name) + "' (not a constant or label)");
    }
    if (peek() == '\0') fail(start, "expected a value");
    fail(start, "unexpected '" + std::string(1, peek()) + "'");
  }

  int64_t number(size_t start) {
    int base = 10;
    if (peek() == '0' && pos_ + 1 < piece_.text.size()) {
      const char p = static_cast<char>(std::tolower(piece_.text[pos_ + 1]));
      if (p == 'x' || p == 'b') {
        base = p == 'x' ? 16 : 2;
        pos_ += 2;
      }
    }
    const size_t digits_start = pos_;
    uint64_t v = 0;
    while (pos_ < piece_.text.size() && std::isalnum(static_cast<unsigned char>(peek()))) {
      const char c = static_cast<char>(std::tolower(peek()));
      const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'a' + 10;
      if (d >= base) fail(pos_, "invalid digit '" + std::string(1, peek()) + "'");
      if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base) ||
          v * base + d > static_cast<uint64_t>(INT64_MAX)) {
        fail(start, "number does not fit 64 bits");
      }
      v = v * base + d;
      ++pos_;
    }
    if (pos_ == digits_start) fail(start, "expected digits");
    return static_cast<int64_t>(v);
  }

  static constexpr int kMaxDepth = 64;
  Piece piece_;
  int line_;
  int depth_ = 0;
  const Symbols& symbols_;
  size_t pos_ = 0;
};

struct Statement {
  int line = 0;
  Piece mnemonic;
  std::vector<Piece> operands;
};

std::string describe_operand(const OperandSpec& op) {
  switch (op.kind) {
    case OperandKind::kReg:
      return "a register r0..r15";
    case OperandKind::kEnum: {
      std::string s = "one of";
      for (auto n : op.enum_names) s += " " + std::string(n);
      return s;
    }
    case OperandKind::kSigned:
      return "a signed " + std::to_string(op.width) + "-bit value";
    case OperandKind::kUnsigned:
      return "an unsigned " + std::to_string(op.width) + "-bit value";
    case OperandKind::kTarget:
      return "a label or instruction index";
  }
  return "?";
}

int64_t operand_value(const OperandSpec& op, Piece value, int line, const Symbols& symbols) {
  if (value.text.empty())
    throw AsmError(line, value.column, "missing value for " + std::string(op.name));
  int64_t v = 0;
  if (op.kind == OperandKind::kReg) {
    const auto t = value.text;
    // At most 3 digits: a register number past that is out of range whatever follows.
    if (t.size() < 2 || t.size() > 4 || (t[0] != 'r' && t[0] != 'R') ||
        t.find_first_not_of("0123456789", 1) != std::string_view::npos) {
      throw AsmError(line, value.column,
                     std::string(op.name) + ": expected " + describe_operand(op));
    }
    v = std::stoll(std::string(t.substr(1)));
  } else if (op.kind == OperandKind::kEnum) {
    bool found = false;
    for (size_t i = 0; i < op.enum_names.size(); ++i) {
      if (op.enum_names[i] == value.text) {
        v = static_cast<int64_t>(i);
        found = true;
      }
    }
    if (!found) {
      throw AsmError(line, value.column,
                     std::string(op.name) + ": '" + std::string(value.text) + "' is not " +
                         describe_operand(op));
    }
  } else {
    v = Expression(value, line, symbols).evaluate();
  }
  if (!fits(op, v)) {
    throw AsmError(line, value.column,
                   std::string(op.name) + " = " + std::to_string(v) + " does not fit: expected " +
                       describe_operand(op));
  }
  return v;
}

Instr assemble_statement(const Statement& st, const Symbols& symbols) {
  const InstrSpec* spec = find_spec(st.mnemonic.text);
  if (!spec) {
    throw AsmError(st.line, st.mnemonic.column,
                   "unknown instruction '" + std::string(st.mnemonic.text) + "'");
  }
  std::vector<std::optional<int64_t>> values(spec->operands.size());
  bool keyword_seen = false;
  for (size_t i = 0; i < st.operands.size(); ++i) {
    const Piece& p = st.operands[i];
    if (p.text.empty()) throw AsmError(st.line, p.column, "empty operand");
    const size_t eq = p.text.find('=');
    size_t index = i;
    Piece value = p;
    if (eq != std::string_view::npos) {
      keyword_seen = true;
      const Piece name = trim({p.text.substr(0, eq), p.column});
      value = trim({p.text.substr(eq + 1), p.column + static_cast<int>(eq) + 1});
      index = spec->operands.size();
      for (size_t k = 0; k < spec->operands.size(); ++k) {
        if (spec->operands[k].name == name.text) index = k;
      }
      if (index == spec->operands.size()) {
        throw AsmError(
            st.line, name.column,
            std::string(spec->mnemonic) + " has no operand '" + std::string(name.text) + "'");
      }
    } else if (keyword_seen) {
      throw AsmError(st.line, p.column, "positional operand after a name=value operand");
    } else if (i >= spec->operands.size()) {
      throw AsmError(st.line, p.column,
                     std::string(spec->mnemonic) + " takes " +
                         std::to_string(spec->operands.size()) + " operands");
    }
    if (values[index]) {
      throw AsmError(st.line, p.column,
                     "operand '" + std::string(spec->operands[index].name) + "' given twice");
    }
    values[index] = operand_value(spec->operands[index], value, st.line, symbols);
  }
  std::vector<int64_t> fields;
  for (size_t k = 0; k < values.size(); ++k) {
    if (!values[k] && spec->operands[k].optional) values[k] = 0;
    if (!values[k]) {
      const int col =
          st.operands.empty()
              ? st.mnemonic.column + static_cast<int>(st.mnemonic.text.size())
              : st.operands.back().column + static_cast<int>(st.operands.back().text.size());
      throw AsmError(st.line, col,
                     std::string(spec->mnemonic) + ": missing operand '" +
                         std::string(spec->operands[k].name) + "' (" +
                         describe_operand(spec->operands[k]) + ")");
    }
    fields.push_back(*values[k]);
  }
  return encode(spec->opcode, fields);
}

}  // namespace

Program assemble(std::string_view source) {
  Symbols symbols;
  std::vector<Statement> statements;
  int line_no = 0;
  size_t line_start = 0;
  while (line_start <= source.size()) {
    const size_t nl = source.find('\n', line_start);
    const size_t line_end = nl == std::string_view::npos ? source.size() : nl;
    ++line_no;
    std::string_view text = source.substr(line_start, line_end - line_start);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    line_start = line_end + 1;
    if (const size_t c = text.find_first_of("#;"); c != std::string_view::npos) {
      text = text.substr(0, c);
    }
    Piece rest = trim({text, 1});
    // Labels at the start of the line.
    for (;;) {
      size_t n = 0;
      while (n < rest.text.size() && is_ident_char(rest.text[n])) ++n;
      if (n == 0 || n >= rest.text.size() || rest.text[n] != ':' || !is_ident_start(rest.text[0]))
        break;
      const std::string name(rest.text.substr(0, n));
      if (symbols.labels.count(name) || symbols.constants.count(name)) {
        throw AsmError(line_no, rest.column, "'" + name + "' is already defined");
      }
      symbols.labels[name] = static_cast<int64_t>(statements.size());
      rest = trim({rest.text.substr(n + 1), rest.column + static_cast<int>(n) + 1});
    }
    if (rest.text.empty()) continue;
    size_t n = 0;
    while (n < rest.text.size() && !std::isspace(static_cast<unsigned char>(rest.text[n]))) ++n;
    const Piece word{rest.text.substr(0, n), rest.column};
    const Piece args = trim({rest.text.substr(n), rest.column + static_cast<int>(n)});
    if (word.text == ".equ") {
      const auto parts = split_commas(args);
      if (parts.size() != 2 || parts[0].text.empty() || !is_ident_start(parts[0].text[0])) {
        throw AsmError(line_no, word.column, ".equ expects: .equ NAME, value");
      }
      const std::string name(parts[0].text);
      if (symbols.labels.count(name) || symbols.constants.count(name)) {
        throw AsmError(line_no, parts[0].column, "'" + name + "' is already defined");
      }
      symbols.constants[name] = Expression(parts[1], line_no, symbols).evaluate();
      continue;
    }
    if (!word.text.empty() && word.text[0] == '.') {
      throw AsmError(line_no, word.column, "unknown directive '" + std::string(word.text) + "'");
    }
    Statement st{line_no, word, {}};
    if (!args.text.empty()) st.operands = split_commas(args);
    statements.push_back(st);
  }
  Program program;
  program.reserve(statements.size());
  for (const Statement& st : statements) {
    try {
      program.push_back(assemble_statement(st, symbols));
    } catch (const EncodingError& e) {
      throw AsmError(st.line, st.mnemonic.column, e.what());
    }
  }
  return program;
}

std::string disassemble(const Program& program) {
  std::vector<Decoded> decoded;
  decoded.reserve(program.size());
  std::set<int64_t> targets;
  for (const Instr& i : program) {
    decoded.push_back(decode(i));
    const InstrSpec& spec = *decoded.back().spec;
    for (size_t k = 0; k < spec.operands.size(); ++k) {
      if (spec.operands[k].kind == OperandKind::kTarget) targets.insert(decoded.back().fields[k]);
    }
  }
  auto label = [](int64_t index) { return "L" + std::to_string(index); };
  std::string out;
  for (size_t n = 0; n <= decoded.size(); ++n) {
    if (targets.count(static_cast<int64_t>(n))) out += label(static_cast<int64_t>(n)) + ":\n";
    if (n == decoded.size()) break;
    const Decoded& d = decoded[n];
    out += "    " + std::string(d.spec->mnemonic);
    for (size_t k = 0; k < d.spec->operands.size(); ++k) {
      const OperandSpec& op = d.spec->operands[k];
      out += k == 0 ? " " : ", ";
      if (d.spec->keyword_syntax) out += std::string(op.name) + "=";
      switch (op.kind) {
        case OperandKind::kReg:
          out += "r" + std::to_string(d.fields[k]);
          break;
        case OperandKind::kEnum:
          out += std::string(op.enum_names[d.fields[k]]);
          break;
        case OperandKind::kTarget:  // a target past the end has no line to carry its label
          out += d.fields[k] <= static_cast<int64_t>(decoded.size()) ? label(d.fields[k])
                                                                     : std::to_string(d.fields[k]);
          break;
        case OperandKind::kSigned:
        case OperandKind::kUnsigned:
          out += std::to_string(d.fields[k]);
          break;
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace nmp::isa
