// A fresh directory under /tmp for one test, removed with everything in it.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace scanwatch::test {

struct TempDir {
    std::filesystem::path path;
    // name: a word for the directory, "/tmp/sw-NAME-XXXXXX"
    explicit TempDir(const std::string& name = "test") {
        std::string tmpl = "/tmp/sw-" + name + "-XXXXXX";
        if (!mkdtemp(tmpl.data()))
            throw std::runtime_error("mkdtemp " + tmpl);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

}  // namespace scanwatch::test
