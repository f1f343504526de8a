# Polywheel.cmake: variant-aware helpers for CMake projects built by polywheel.
#
# polywheel includes this module for every variant build (through the generated
# CMAKE_PROJECT_INCLUDE file), after your first project() call. It provides:
#
#   polywheel_apply_variant_flags(<target>...)
#       Adds the variant's compiler flags (e.g. -march=x86-64-v3) to the C and C++
#       sources of the given targets only. Use it with
#       `[tool.variants] apply-flags = "targets"`, when only some targets (say, the
#       hot kernels) may use the wider instruction set.
#
# and these variables (empty or OFF for a build without variant):
#   POLYWHEEL                      ON when built by polywheel
#   POLYWHEEL_VARIANT_LABEL        the variant label, e.g. x86_64_v3
#   POLYWHEEL_VARIANT_PROPERTIES   list of "namespace :: feature :: value"
#   POLYWHEEL_<NS>_<FEATURE>       the values of one feature, e.g. POLYWHEEL_X86_64_LEVEL
#   POLYWHEEL_CUDA                 ON when the variant is a GPU build
#   POLYWHEEL_COMPILE_OPTIONS      the C/C++ flags for the current compiler
include_guard(GLOBAL)

if(CMAKE_VERSION VERSION_LESS 3.19)
  message(FATAL_ERROR "polywheel needs CMake >= 3.19 (found ${CMAKE_VERSION})")
endif()

function(_polywheel_option_genex out)
  set(opts)
  foreach(lang IN ITEMS C CXX)
    foreach(flag IN LISTS POLYWHEEL_COMPILE_OPTIONS_GNU)
      list(APPEND opts "$<$<COMPILE_LANG_AND_ID:${lang},GNU,Clang,AppleClang,IntelLLVM>:${flag}>")
    endforeach()
    foreach(flag IN LISTS POLYWHEEL_COMPILE_OPTIONS_MSVC)
      list(APPEND opts "$<$<COMPILE_LANG_AND_ID:${lang},MSVC>:${flag}>")
    endforeach()
    foreach(flag IN LISTS POLYWHEEL_COMPILE_OPTIONS_EXTRA)
      list(APPEND opts "$<$<COMPILE_LANGUAGE:${lang}>:${flag}>")
    endforeach()
  endforeach()
  set(${out} "${opts}" PARENT_SCOPE)
endfunction()

function(polywheel_apply_variant_flags)
  _polywheel_option_genex(opts)
  foreach(target IN LISTS ARGN)
    if(NOT TARGET "${target}")
      message(FATAL_ERROR "polywheel_apply_variant_flags: no target named '${target}'")
    endif()
    target_compile_options("${target}" PRIVATE ${opts})
    set_property(GLOBAL APPEND PROPERTY POLYWHEEL_FLAGGED_TARGETS "${target}")
  endforeach()
endfunction()

# Called by the generated include in `apply-flags = "global"` mode: every target of
# the project (and of its subdirectories) gets the flags.
macro(_polywheel_apply_global_flags)
  _polywheel_option_genex(_polywheel_opts)
  add_compile_options(${_polywheel_opts})
  set_property(GLOBAL APPEND PROPERTY POLYWHEEL_FLAGGED_TARGETS "<all>")
endmacro()

# Called by the generated include for every variant build: source and build paths do
# not reach the binaries (__FILE__, assert messages, debug info), so two checkouts in
# different folders give byte-identical wheels. The build folder is mapped last: it
# may lie inside the source folder, and the last matching map wins.
macro(_polywheel_map_prefixes)
  foreach(_polywheel_lang IN ITEMS C CXX)
    add_compile_options(
      "$<$<COMPILE_LANG_AND_ID:${_polywheel_lang},GNU,Clang,AppleClang,IntelLLVM>:-ffile-prefix-map=${CMAKE_SOURCE_DIR}=.>"
      "$<$<COMPILE_LANG_AND_ID:${_polywheel_lang},GNU,Clang,AppleClang,IntelLLVM>:-ffile-prefix-map=${CMAKE_BINARY_DIR}=build>"
    )
    # GCC's LTO links generate code in the build folder and name it as the debug
    # info's compilation folder; mapped, the code is the same in every variant's
    # folder (what the LTO cache's shim relies on to share it).
    if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.18)
      add_link_options(
        "$<$<LINK_LANG_AND_ID:${_polywheel_lang},GNU>:-ffile-prefix-map=${CMAKE_BINARY_DIR}=build>"
      )
    endif()
  endforeach()
endmacro()

# Deferred to the end of the top-level CMakeLists.txt: tells polywheel what the
# configure step really did, so it can refuse to label a build whose flags or CUDA
# architectures never reached the compiler.
function(_polywheel_write_build_info)
  if(NOT DEFINED ENV{POLYWHEEL_BUILD_INFO})
    return()
  endif()
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  get_property(targets GLOBAL PROPERTY POLYWHEEL_FLAGGED_TARGETS)
  set(info "label=${POLYWHEEL_VARIANT_LABEL}\n")
  string(APPEND info "binary_dir=${CMAKE_BINARY_DIR}\n")
  string(APPEND info "generator=${CMAKE_GENERATOR}\n")
  string(APPEND info "make_program=${CMAKE_MAKE_PROGRAM}\n")
  string(APPEND info "languages=${languages}\n")
  string(APPEND info "flagged_targets=${targets}\n")
  foreach(lang IN ITEMS C CXX CUDA)
    string(APPEND info "${lang}_compiler=${CMAKE_${lang}_COMPILER}\n")
    string(APPEND info "${lang}_compiler_id=${CMAKE_${lang}_COMPILER_ID}\n")
    string(APPEND info "${lang}_compiler_version=${CMAKE_${lang}_COMPILER_VERSION}\n")
  endforeach()
  string(APPEND info "cuda_architectures=${CMAKE_CUDA_ARCHITECTURES}\n")
  file(WRITE "$ENV{POLYWHEEL_BUILD_INFO}" "${info}")
endfunction()
