// A small streaming XML writer: EC2 responses are shallow and written once, so a DOM (pugixml)
// would only add allocations.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kumo::api {

class XmlWriter {
 public:
  XmlWriter() { out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"; }
  void Open(std::string_view name, std::string_view xmlns = {});
  void Close();
  void Element(std::string_view name, std::string_view text);
  void Empty(std::string_view name);
  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

  static void Escape(std::string_view text, std::string* out);

 private:
  std::string out_;
  std::vector<std::string> open_;
};

}  // namespace kumo::api
