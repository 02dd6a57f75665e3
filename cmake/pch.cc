// Builds the shared precompiled header (cmake/pch.cmake).
