# Runs the lite harness's self-test suite (selftest.c) and checks its report:
#   cmake -DEXE=<test_lite_selftest> [-DEMULATOR=<list>] -P selftest.cmake
execute_process(COMMAND ${EMULATOR} ${EXE}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
message("${all}")
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "lite harness: exit status ${rc}, expected 1 (a test failed)")
endif()
foreach(want
    "Synthesis: Tested: 3 | Passing: 1 | Failing: 2 | Crashing: 0"
    "1 passed, 2 failed"
    "deliberate failure 42"
    "deliberate expect failure"
    "after expect counter=11"
    "info line 7"
    "[SKIP] selftest::skips: deliberate skip 3"
    "[PASS] selftest::passes"
    "[FAIL] selftest::assert_fails"
    "[FAIL] selftest::expect_continues")
  string(FIND "${all}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "lite harness: the report lacks \"${want}\"")
  endif()
endforeach()
string(FIND "${all}" "not reached" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "lite harness: a test went on after cr_skip_test")
endif()
