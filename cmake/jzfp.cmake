# Shared build settings: warnings, sanitizers, pkg-config imports, test helpers.

find_package(PkgConfig REQUIRED)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
pkg_check_modules(XLSXWRITER REQUIRED IMPORTED_TARGET xlsxwriter)
pkg_check_modules(CMOCKA IMPORTED_TARGET cmocka)

# jzfp_soname(PREFIX out): the SONAME of the shared library pkg-config found
# for PREFIX (what dlopen must name on a machine without the -dev package).
function(jzfp_soname prefix out)
	find_library(lib NAMES ${${prefix}_LIBRARIES} HINTS ${${prefix}_LIBRARY_DIRS} NO_CACHE)
	execute_process(COMMAND ${CMAKE_READELF} -d ${lib} OUTPUT_VARIABLE dyn
		RESULT_VARIABLE rc)
	if(NOT rc EQUAL 0 OR NOT dyn MATCHES "Library soname: \\[([^]]+)\\]")
		message(FATAL_ERROR "cannot read the SONAME of ${lib} (readelf -d)")
	endif()
	set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
endfunction()

add_library(jzfp_warnings INTERFACE)
target_compile_options(jzfp_warnings INTERFACE
	-D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
	-Wmissing-prototypes -Wformat=2 -Wcast-qual -Wpointer-arith -Wundef -Wvla
	# Bounded snprintf into fixed fields (names, reasons) truncates on
	# purpose; GCC's -Wformat-truncation would flag each. Clang lacks it.
	$<$<C_COMPILER_ID:GNU>:-Wno-format-truncation>)

if(JZFP_SANITIZE)
	add_compile_options(-fsanitize=${JZFP_SANITIZE} -fno-sanitize-recover=all
		-fno-omit-frame-pointer)
	add_link_options(-fsanitize=${JZFP_SANITIZE})
endif()

# jzfp_unit_test(module): tests/unit/test_<module>.c, linked with cmocka and our libraries.
function(jzfp_unit_test name)
	add_executable(test_${name} unit/test_${name}.c unit/testutil.c)
	target_link_libraries(test_${name} PRIVATE jzfp_node jzfp_common PkgConfig::CMOCKA
		jzfp_warnings)
	target_include_directories(test_${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
	add_test(NAME unit_${name} COMMAND test_${name})
	# 300 s: test_converge replays 1,000 orders and takes ~45 s under ASan on a
	# loaded 2-core machine; a hang still ends well inside the CI budget.
	set_tests_properties(unit_${name} PROPERTIES LABELS unit TIMEOUT 300)
endfunction()
