// PickleValue's accessors and PickleBuilder: the document side of the
// pickle reader.
#include <bit>
#include <cstring>

#include "report/snapshot/pickle_builder.h"

namespace oomtrace::report {

const char* pickle_kind_name(PickleKind kind) {
  switch (kind) {
    case PickleKind::None: return "NoneType";
    case PickleKind::Bool: return "bool";
    case PickleKind::Int: return "int";
    case PickleKind::Float: return "float";
    case PickleKind::String: return "str";
    case PickleKind::Bytes: return "bytes";
    case PickleKind::List: return "list";
    case PickleKind::Tuple: return "tuple";
    case PickleKind::Dict: return "dict";
    case PickleKind::Set: return "set";
  }
  return "?";
}

// ---- PickleValue ----

PickleKind PickleValue::kind() const { return document_->nodes_[id_].kind; }

bool PickleValue::as_bool() const { return is(PickleKind::Bool) && document_->nodes_[id_].payload != 0; }

int64_t PickleValue::as_int() const {
  return is(PickleKind::Int) || is(PickleKind::Bool) ? static_cast<int64_t>(document_->nodes_[id_].payload) : 0;
}

double PickleValue::as_float() const {
  return is(PickleKind::Float) ? std::bit_cast<double>(document_->nodes_[id_].payload) : 0.0;
}

std::string_view PickleValue::as_text() const {
  const PickleDocument::Node& node = document_->nodes_[id_];
  if (node.kind != PickleKind::String && node.kind != PickleKind::Bytes) return {};
  return std::string_view(document_->text_).substr(node.payload, node.length);
}

namespace {

bool is_container(PickleKind kind) {
  return kind == PickleKind::List || kind == PickleKind::Tuple || kind == PickleKind::Dict ||
         kind == PickleKind::Set;
}

}  // namespace

size_t PickleValue::size() const {
  const PickleDocument::Node& node = document_->nodes_[id_];
  if (!is_container(node.kind)) return 0;
  size_t slots = document_->containers_[node.payload].size();
  return node.kind == PickleKind::Dict ? slots / 2 : slots;
}

PickleValue PickleValue::item(size_t index) const {
  if (is(PickleKind::Dict) || index >= size()) return PickleValue(document_, 0);
  return PickleValue(document_, document_->containers_[document_->nodes_[id_].payload][index]);
}

PickleValue PickleValue::key(size_t index) const {
  if (!is(PickleKind::Dict) || index >= size()) return PickleValue(document_, 0);
  return PickleValue(document_, document_->containers_[document_->nodes_[id_].payload][2 * index]);
}

PickleValue PickleValue::value(size_t index) const {
  if (!is(PickleKind::Dict) || index >= size()) return PickleValue(document_, 0);
  return PickleValue(document_, document_->containers_[document_->nodes_[id_].payload][2 * index + 1]);
}

std::optional<PickleValue> PickleValue::get(std::string_view wanted) const {
  for (size_t i = size(); is(PickleKind::Dict) && i-- > 0;) {
    PickleValue k = key(i);
    if (k.is(PickleKind::String) && k.as_text() == wanted) return value(i);
  }
  return std::nullopt;
}

// ---- PickleBuilder ----

void throw_malformed(std::string message) { throw PickleError{PickleError::Kind::Malformed, std::move(message)}; }

namespace {

[[noreturn]] void throw_over_limit(std::string message) {
  throw PickleError{PickleError::Kind::OverLimit, std::move(message)};
}

}  // namespace

PickleBuilder::PickleBuilder(size_t input_size)
    : max_values_(static_cast<uint64_t>(input_size) + 16),
      max_text_(kPickleMaxTextPerByte * static_cast<uint64_t>(input_size) + 64) {
  // Ids 0, 1, 2: None, False, True, shared by every use.
  document_.nodes_.push_back({PickleKind::None, true, 0, 0, 0});
  document_.nodes_.push_back({PickleKind::Bool, true, 0, 0, 0});
  document_.nodes_.push_back({PickleKind::Bool, true, 0, 0, 1});
}

uint32_t PickleBuilder::add_node(PickleDocument::Node node) {
  if (document_.nodes_.size() >= max_values_) {
    throw_over_limit("more values (" + std::to_string(max_values_) + ") than its size allows");
  }
  document_.nodes_.push_back(node);
  return static_cast<uint32_t>(document_.nodes_.size() - 1);
}

uint32_t PickleBuilder::integer(int64_t value) {
  return add_node({PickleKind::Int, false, 0, 0, static_cast<uint64_t>(value)});
}

uint32_t PickleBuilder::real(double value) {
  return add_node({PickleKind::Float, false, 0, 0, std::bit_cast<uint64_t>(value)});
}

uint32_t PickleBuilder::text(PickleKind kind, std::string_view bytes) {
  if (document_.text_.size() + bytes.size() > max_text_ || bytes.size() > UINT32_MAX) {
    throw_over_limit("more string bytes than its size allows");
  }
  uint64_t offset = document_.text_.size();
  document_.text_.append(bytes);
  return add_node({kind, false, 0, static_cast<uint32_t>(bytes.size()), offset});
}

uint32_t PickleBuilder::container(PickleKind kind) {
  uint32_t id = add_node({kind, false, 1, 0, document_.containers_.size()});
  document_.containers_.emplace_back();
  return id;
}

std::string_view PickleBuilder::text_of(uint32_t id) const {
  const PickleDocument::Node& node = document_.nodes_[id];
  if (node.kind != PickleKind::String && node.kind != PickleKind::Bytes) return {};
  return std::string_view(document_.text_).substr(node.payload, node.length);
}

// The one place an item enters a container. A frozen container never
// changes, so the depth computed here stays true, and a container can only
// come to hold itself by being added to itself directly.
void PickleBuilder::place(uint32_t container, uint32_t item) {
  PickleDocument::Node& target = document_.nodes_[container];
  if (target.frozen) {
    throw_malformed(std::string("the pickle changes a ") + pickle_kind_name(target.kind) +
                    " after placing it inside another value (self-referencing data is not read)");
  }
  if (item == container) throw_malformed("the pickle puts a container inside itself");
  PickleDocument::Node& child = document_.nodes_[item];
  if (child.depth + 1u > kPickleMaxDepth) throw_over_limit("it nests deeper than " + std::to_string(kPickleMaxDepth) + " levels");
  child.frozen = true;
  target.depth = std::max<uint16_t>(target.depth, static_cast<uint16_t>(child.depth + 1));
  document_.containers_[target.payload].push_back(item);
  ++document_.references_;
}

void PickleBuilder::add(uint32_t container, uint32_t item) {
  PickleKind kind = document_.nodes_[container].kind;
  if (kind != PickleKind::List && kind != PickleKind::Tuple && kind != PickleKind::Set) {
    throw_malformed(std::string("the pickle appends to a ") + pickle_kind_name(kind));
  }
  place(container, item);
}

void PickleBuilder::add_entry(uint32_t dict, uint32_t key, uint32_t value) {
  PickleKind kind = document_.nodes_[dict].kind;
  if (kind != PickleKind::Dict) throw_malformed(std::string("the pickle sets an item of a ") + pickle_kind_name(kind));
  place(dict, key);
  place(dict, value);
}

PickleDocument PickleBuilder::finish(uint32_t root) {
  document_.root_ = root;
  return std::move(document_);
}

}  // namespace oomtrace::report
