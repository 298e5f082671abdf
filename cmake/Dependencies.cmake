# Finds every library the build uses. Each one that can be missing stops the configure step with
# the Debian package that provides it (`bash scripts/setup.sh` installs all of them).

# betterdev_require(<found-variable> <debian-package> <what>)
function(betterdev_require found deb what)
  if(NOT ${found})
    message(FATAL_ERROR "${what} was not found: install the Debian package '${deb}' "
                        "(bash scripts/setup.sh installs everything the build needs)")
  endif()
endfunction()

# betterdev_find_package(<Package> <debian-package> [find_package arguments...])
macro(betterdev_find_package pkg deb)
  find_package(${pkg} ${ARGN} QUIET)
  betterdev_require(${pkg}_FOUND ${deb} "${pkg}")
endmacro()

# betterdev_pkg_config(<PREFIX> <pkg-config module> <debian-package>): an imported target PkgConfig::<PREFIX>
macro(betterdev_pkg_config prefix module deb)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${module})
  betterdev_require(${prefix}_FOUND ${deb} "${module} (pkg-config)")
endmacro()

find_package(PkgConfig QUIET)
betterdev_require(PKG_CONFIG_FOUND pkg-config "pkg-config")
betterdev_find_package(Boost libboost1.74-dev 1.74)
betterdev_find_package(nlohmann_json nlohmann-json3-dev 3.10)
betterdev_find_package(CLI11 libcli11-dev)
betterdev_find_package(SQLite3 libsqlite3-dev)
betterdev_find_package(Threads libc6-dev)
betterdev_find_package(OpenSSL libssl-dev)
betterdev_pkg_config(SODIUM libsodium libsodium-dev)
betterdev_pkg_config(POPPLER_CPP poppler-cpp libpoppler-cpp-dev)
find_library(MAGIC_LIBRARY magic)
betterdev_require(MAGIC_LIBRARY libmagic-dev "libmagic")
betterdev_pkg_config(LIBZIP libzip libzip-dev)
betterdev_find_package(pugixml libpugixml-dev)
betterdev_pkg_config(TESSERACT tesseract libtesseract-dev)
betterdev_pkg_config(LEPTONICA lept libleptonica-dev)
betterdev_pkg_config(GUMBO gumbo libgumbo-dev)
betterdev_pkg_config(UCHARDET uchardet libuchardet-dev)
betterdev_pkg_config(CURL libcurl libcurl4-openssl-dev)
# hnswlib is header-only: its headers are all there is to find.
find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h)
betterdev_require(HNSWLIB_INCLUDE_DIR libhnswlib-dev "hnswlib (hnswlib/hnswlib.h)")

if(BETTERDEV_TESTS)
  betterdev_find_package(GTest libgtest-dev)
  find_program(NODE node)
  betterdev_require(NODE nodejs "node (the end-to-end tests' runner)")
endif()
if(BETTERDEV_BENCH)
  betterdev_find_package(benchmark libbenchmark-dev)
endif()
