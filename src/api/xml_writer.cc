#include "api/xml_writer.h"

#include <fmt/format.h>

namespace kumo::api {

void XmlWriter::Open(std::string_view name, std::string_view xmlns) {
  out_ += '<';
  out_ += name;
  if (!xmlns.empty()) {
    out_ += " xmlns=\"";
    Escape(xmlns, &out_);
    out_ += '"';
  }
  out_ += '>';
  open_.emplace_back(name);
}

void XmlWriter::Close() {
  out_ += "</";
  out_ += open_.back();
  out_ += '>';
  open_.pop_back();
}

void XmlWriter::Element(std::string_view name, std::string_view text) {
  out_ += '<';
  out_ += name;
  out_ += '>';
  Escape(text, &out_);
  out_ += "</";
  out_ += name;
  out_ += '>';
}

void XmlWriter::Empty(std::string_view name) {
  out_ += '<';
  out_ += name;
  out_ += "/>";
}

void XmlWriter::Escape(std::string_view text, std::string* out) {
  for (char c : text) {
    switch (c) {
      case '&':
        *out += "&amp;";
        break;
      case '<':
        *out += "&lt;";
        break;
      case '>':
        *out += "&gt;";
        break;
      case '"':
        *out += "&quot;";
        break;
      case '\'':
        *out += "&apos;";
        break;
      case '\n':
      case '\r':
      case '\t':
        *out += fmt::format("&#{};", int(c));
        break;
      default:
        // XML 1.0 cannot carry other control characters at all, even escaped.
        if (static_cast<unsigned char>(c) < 0x20) {
          *out += "\xEF\xBF\xBD";
        } else {
          *out += c;
        }
    }
  }
}

}  // namespace kumo::api
