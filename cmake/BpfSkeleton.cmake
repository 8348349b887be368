# add_bpf_skeleton(NAME SOURCE <file.bpf.c> [DEPENDS ...])
#   Compiles SOURCE with clang -target bpf (CO-RE, BTF) into NAME.bpf.o and
#   generates NAME.skel.h with bpftool. Creates an INTERFACE target NAME_skel
#   that puts the skeleton header on the include path. The headers SOURCE
#   includes are tracked through clang's depfile: a new bpf/*.bpf.h needs no
#   DEPENDS entry.
find_program(CLANG_BPF NAMES clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(BPF_ARCH arm64)
else()
  message(FATAL_ERROR "no committed vmlinux.h for ${CMAKE_SYSTEM_PROCESSOR}")
endif()
set(BPF_VMLINUX_DIR ${PROJECT_SOURCE_DIR}/vmlinux/${BPF_ARCH})

function(add_bpf_skeleton NAME)
  cmake_parse_arguments(ARG "" "SOURCE" "DEPENDS" ${ARGN})
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CLANG_BPF} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_${BPF_ARCH}
            -Wall -Werror -Wno-unused-function
            -I${BPF_VMLINUX_DIR} -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/bpf
            -MD -MF ${obj}.d -c ${ARG_SOURCE} -o ${obj}
    DEPENDS ${ARG_SOURCE} ${ARG_DEPENDS}
    DEPFILE ${obj}.d
    COMMENT "BPF ${NAME}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${NAME} > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${NAME}.skel.h"
    VERBATIM)
  add_custom_target(${NAME}_skel_gen DEPENDS ${skel})
  add_library(${NAME}_skel INTERFACE)
  add_dependencies(${NAME}_skel ${NAME}_skel_gen)
  target_include_directories(${NAME}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR})
  set(${NAME}_BPF_OBJECT ${obj} PARENT_SCOPE)
endfunction()
