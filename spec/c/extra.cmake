# extra.cmake -- C tests beyond spec/c/test_*.c (included at the end of
# CMakeLists.txt): the C example run against the sandbox, and the same run
# under valgrind (no definite leak, no memory error).
if(TARGET sinch-batch-mock AND TARGET example_send_batch)
  set(_run_example ${CMAKE_CURRENT_LIST_DIR}/run_example.sh)
  add_test(NAME c/example_send_batch
    COMMAND sh ${_run_example} $<TARGET_FILE:sinch-batch-mock> $<TARGET_FILE:example_send_batch>)
  set_tests_properties(c/example_send_batch PROPERTIES TIMEOUT 120)

  find_program(VALGRIND valgrind)
  if(VALGRIND)
    add_test(NAME c/example_send_batch_valgrind
      COMMAND sh ${_run_example} $<TARGET_FILE:sinch-batch-mock> $<TARGET_FILE:example_send_batch>
        ${VALGRIND} --quiet --error-exitcode=1 --leak-check=full
        --errors-for-leak-kinds=definite)
    set_tests_properties(c/example_send_batch_valgrind PROPERTIES TIMEOUT 300)
  endif()
endif()
