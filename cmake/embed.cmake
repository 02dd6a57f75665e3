# Writes OUT, a C++ file defining kumo::api::kEmbeddedEc2Model with the bytes of IN.
file(READ ${IN} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," content "${content}")
file(WRITE ${OUT} "namespace kumo::api {\nextern const char kEmbeddedEc2Model[];\nconst char kEmbeddedEc2Model[] = {${content} 0x00};\n}\n")
