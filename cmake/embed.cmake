# Writes OUT, a C++ file defining `const char NAME[]` in namespace NS with the bytes of IN, so
# data files ship inside the binary.
file(READ ${IN} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," content "${content}")
file(WRITE ${OUT} "namespace ${NS} {\nextern const char ${NAME}[];\nconst char ${NAME}[] = {${content} 0x00};\n}\n")
