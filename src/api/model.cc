#include "api/model.h"

#include <fmt/format.h>

#include <charconv>
#include <map>

#include "api/xml_writer.h"
#include "common/encoding.h"
#include "common/errors.h"

namespace kumo::api {

extern const char kEmbeddedEc2Model[];  // model/ec2_model.json, compiled in by CMake

namespace {

using nlohmann::json;

// Parameters grouped by their dotted path: "Filter.1.Value.2" → Filter → 1 → Value → 2.
struct Node {
  const std::string* value = nullptr;
  std::map<std::string_view, Node> children;
};

constexpr int kMaxListIndex = 10000;

std::string JoinPath(const std::string& prefix, std::string_view part) {
  return prefix.empty() ? std::string(part) : prefix + "." + std::string(part);
}

class Decoder {
 public:
  explicit Decoder(const json& shapes) : shapes_(shapes) {}

  absl::StatusOr<json> Decode(const std::string& shape_name, const Node& node,
                              const std::string& path) const {
    const json& shape = shapes_.at(shape_name);
    const std::string& type = shape.at("type").get_ref<const std::string&>();
    if (type == "structure") return DecodeStructure(shape, node, path);
    if (type == "list") return DecodeList(shape, node, path);
    if (!node.children.empty()) {
      return UnknownParameter(
          fmt::format("The parameter {}.{} is not recognized", path, node.children.begin()->first));
    }
    if (node.value == nullptr)
      return MissingParameter(fmt::format("The request must contain the parameter {}", path));
    return DecodeScalar(shape, type, *node.value, path);
  }

 private:
  absl::StatusOr<json> DecodeStructure(const json& shape, const Node& node,
                                       const std::string& path) const {
    if (node.value != nullptr && !path.empty()) {
      return InvalidParameterValue(
          fmt::format("Invalid value for parameter {}: a structure", path));
    }
    json out = json::object();
    const json& members = shape.at("members");
    for (const auto& [key, child] : node.children) {
      const std::string* member_name = nullptr;
      const json* member_ref = nullptr;
      for (const auto& [name, ref] : members.items()) {
        if (SerializedName(name, ref) == key) {
          member_name = &name;
          member_ref = &ref;
          break;
        }
      }
      std::string child_path = JoinPath(path, key);
      if (member_name == nullptr) {
        return UnknownParameter(fmt::format("The parameter {} is not recognized", child_path));
      }
      auto v = Decode(member_ref->at("shape").get<std::string>(), child, child_path);
      if (!v.ok()) return v.status();
      out[*member_name] = std::move(*v);
    }
    if (auto it = shape.find("required"); it != shape.end()) {
      for (const auto& req : *it) {
        const std::string& name = req.get_ref<const std::string&>();
        if (!out.contains(name)) {
          return MissingParameter(
              fmt::format("The request must contain the parameter {}",
                          JoinPath(path, SerializedName(name, members.at(name)))));
        }
      }
    }
    return out;
  }

  absl::StatusOr<json> DecodeList(const json& shape, const Node& node,
                                  const std::string& path) const {
    if (node.value != nullptr) {
      return InvalidParameterValue(
          fmt::format("Invalid value for parameter {}: expected {}.1, {}.2, …", path, path, path));
    }
    std::map<int, const Node*> items;
    for (const auto& [key, child] : node.children) {
      int index = 0;
      auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
      if (ec != std::errc() || ptr != key.data() + key.size() || index < 1 ||
          index > kMaxListIndex || key[0] == '0') {
        return InvalidParameterValue(
            fmt::format("The parameter {}.{} has an invalid list index", path, key));
      }
      items[index] = &child;
    }
    json out = json::array();
    const std::string& member_shape = shape.at("member").at("shape").get_ref<const std::string&>();
    for (const auto& [index, child] : items) {
      auto v = Decode(member_shape, *child, fmt::format("{}.{}", path, index));
      if (!v.ok()) return v.status();
      out.push_back(std::move(*v));
    }
    return out;
  }

  static absl::StatusOr<json> DecodeScalar(const json& shape, const std::string& type,
                                           const std::string& value, const std::string& path) {
    if (type == "string") {
      if (auto it = shape.find("enum"); it != shape.end()) {
        bool found = false;
        for (const auto& e : *it) found = found || e.get_ref<const std::string&>() == value;
        if (!found) {
          return InvalidParameterValue(
              fmt::format("Value ({}) for parameter {} is invalid. Valid values: {}", value, path,
                          fmt::join(it->begin(), it->end(), ", ")));
        }
      }
      return json(value);
    }
    if (type == "integer" || type == "long") {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() ||
          (type == "integer" && (n > INT32_MAX || n < INT32_MIN))) {
        return InvalidParameterValue(
            fmt::format("Invalid value '{}' for {}: not an integer", value, path));
      }
      // The model's bounds (MaxResults shapes carry them) are EC2's own.
      if ((shape.contains("min") && n < shape["min"].get<int64_t>()) ||
          (shape.contains("max") && n > shape["max"].get<int64_t>())) {
        return InvalidParameterValue(fmt::format(
            "Value ( {} ) for parameter {} is invalid. Expecting a value between {} and {}", n,
            path, shape.value("min", int64_t(INT32_MIN)), shape.value("max", int64_t(INT32_MAX))));
      }
      return json(n);
    }
    if (type == "boolean") {
      if (value == "true" || value == "True" || value == "TRUE") return json(true);
      if (value == "false" || value == "False" || value == "FALSE") return json(false);
      return InvalidParameterValue(
          fmt::format("Invalid value '{}' for {}: not a boolean", value, path));
    }
    if (type == "double" || type == "float") {
      char* end = nullptr;
      double d = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size()) {
        return InvalidParameterValue(
            fmt::format("Invalid value '{}' for {}: not a number", value, path));
      }
      return json(d);
    }
    if (type == "blob") {
      auto bytes = Base64Decode(value);
      if (!bytes) {
        return InvalidParameterValue(
            fmt::format("Value for parameter {} is not valid base64", path));
      }
      // Binary cannot live in a JSON string; blobs stay base64 and handlers decode them.
      return json(Base64Encode(*bytes));
    }
    // timestamps and anything else are passed through for the handler to interpret.
    return json(value);
  }

  static std::string SerializedName(const std::string& member, const json& ref) {
    if (auto q = ref.find("queryName"); q != ref.end()) return q->get<std::string>();
    if (auto l = ref.find("locationName"); l != ref.end()) {
      std::string name = l->get<std::string>();
      if (!name.empty()) name[0] = char(std::toupper(static_cast<unsigned char>(name[0])));
      return name;
    }
    return member;
  }

  const json& shapes_;
};

class Renderer {
 public:
  Renderer(const json& shapes, XmlWriter* w) : shapes_(shapes), w_(w) {}

  void Members(const json& shape, const json& value) {
    if (!value.is_object()) return;
    for (const auto& [name, ref] : shape.at("members").items()) {
      auto it = value.find(name);
      if (it == value.end() || it->is_null()) continue;
      std::string element =
          ref.contains("locationName") ? ref["locationName"].get<std::string>() : name;
      Value(ref.at("shape").get_ref<const std::string&>(), element, *it);
    }
  }

  void Value(const std::string& shape_name, const std::string& element, const json& value) {
    const json& shape = shapes_.at(shape_name);
    const std::string& type = shape.at("type").get_ref<const std::string&>();
    if (type == "structure") {
      w_->Open(element);
      Members(shape, value);
      w_->Close();
    } else if (type == "list") {
      const json& member = shape.at("member");
      std::string item =
          member.contains("locationName") ? member["locationName"].get<std::string>() : "item";
      const std::string& member_shape = member.at("shape").get_ref<const std::string&>();
      if (shape.value("flattened", false)) {
        for (const auto& v : value) Value(member_shape, element, v);
        return;
      }
      if (value.empty()) {
        w_->Empty(element);
        return;
      }
      w_->Open(element);
      for (const auto& v : value) Value(member_shape, item, v);
      w_->Close();
    } else if (value.is_string()) {
      w_->Element(element, value.get_ref<const std::string&>());
    } else if (value.is_boolean()) {
      w_->Element(element, value.get<bool>() ? "true" : "false");
    } else {
      w_->Element(element, value.dump());
    }
  }

 private:
  const json& shapes_;
  XmlWriter* w_;
};

}  // namespace

const Ec2Model& Ec2Model::Embedded() {
  static const Ec2Model* model = [] {
    auto m = FromJson(kEmbeddedEc2Model);
    if (!m.ok()) std::abort();  // the build embeds a model the unit tests load
    return m->release();
  }();
  return *model;
}

absl::StatusOr<std::unique_ptr<Ec2Model>> Ec2Model::FromJson(std::string_view text) {
  std::unique_ptr<Ec2Model> m(new Ec2Model());
  m->json_ = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (m->json_.is_discarded() || !m->json_.contains("operations") || !m->json_.contains("shapes")) {
    return absl::InvalidArgumentError("EC2 model is not valid JSON with operations and shapes");
  }
  m->namespace_ = m->json_["metadata"].value("xmlNamespace", "");
  if (!m->namespace_.empty() && m->namespace_.back() != '/') m->namespace_ += '/';
  return m;
}

bool Ec2Model::HasOperation(std::string_view action) const {
  return json_["operations"].contains(action);
}

std::vector<std::string> Ec2Model::Operations() const {
  std::vector<std::string> out;
  for (const auto& [name, op] : json_["operations"].items()) out.push_back(name);
  return out;
}

bool Ec2Model::InputHasMember(std::string_view action, std::string_view member) const {
  auto op = json_["operations"].find(std::string(action));
  if (op == json_["operations"].end() || !op->contains("input")) return false;
  return json_["shapes"].at((*op)["input"].get<std::string>()).at("members").contains(member);
}

absl::StatusOr<nlohmann::json> Ec2Model::DecodeRequest(std::string_view action,
                                                       const Params& params) const {
  const json& op = json_["operations"].at(std::string(action));
  if (!op.contains("input")) {
    if (!params.empty()) {
      return UnknownParameter(fmt::format("The parameter {} is not recognized", params[0].first));
    }
    return json::object();
  }
  Node root;
  for (const auto& [name, value] : params) {
    Node* node = &root;
    std::string_view rest = name;
    int depth = 0;
    while (true) {
      size_t dot = rest.find('.');
      std::string_view part = rest.substr(0, dot);
      if (part.empty() || ++depth > 16) {
        return UnknownParameter(fmt::format("The parameter {} is not recognized", name));
      }
      node = &node->children[part];
      if (dot == std::string_view::npos) break;
      rest = rest.substr(dot + 1);
    }
    node->value = &value;
  }
  Decoder d(json_["shapes"]);
  return d.Decode(op["input"].get<std::string>(), root, "");
}

std::string Ec2Model::RenderResponse(std::string_view action, const nlohmann::json& result,
                                     std::string_view request_id) const {
  XmlWriter w;
  std::string root = std::string(action) + "Response";
  w.Open(root, namespace_);
  w.Element("requestId", request_id);
  const json& op = json_["operations"].at(std::string(action));
  if (op.contains("output")) {
    Renderer r(json_["shapes"], &w);
    r.Members(json_["shapes"].at(op["output"].get<std::string>()), result);
  } else {
    // Actions without an output shape answer <return>true</return>, as EC2 does.
    w.Element("return", "true");
  }
  w.Close();
  return w.Take();
}

}  // namespace kumo::api
