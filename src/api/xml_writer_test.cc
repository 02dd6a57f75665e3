#include "api/xml_writer.h"

#include <gtest/gtest.h>

namespace kumo::api {
namespace {

TEST(XmlWriterTest, NestsAndEscapes) {
  XmlWriter w;
  w.Open("Response", "urn:x");
  w.Element("a", "<&>\"'");
  w.Empty("b");
  w.Open("c");
  w.Element("d", "line\nbreak\x01");
  w.Close();
  w.Close();
  EXPECT_EQ(w.str(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<Response xmlns=\"urn:x\"><a>&lt;&amp;&gt;&quot;&apos;</a><b/>"
            "<c><d>line&#10;break\xEF\xBF\xBD</d></c></Response>");
}

TEST(XmlWriterTest, KeepsUtf8) {
  XmlWriter w;
  w.Element("n", "héllo ✓");
  EXPECT_NE(w.str().find("<n>héllo ✓</n>"), std::string::npos);
}

}  // namespace
}  // namespace kumo::api
