# Frontend tests (included by tests/unit/CMakeLists.txt): tensor files and the ONNX importer.
# make_frontend_data.py writes the numpy/onnx-made inputs (fixture), test_tensor_io runs the C
# side, and the same script then checks that numpy and onnx read back what isbc wrote.
set(ISBC_PYTHON ${ISBC_SYSTEM_PYTHON}) # tests/CMakeLists.txt
set(FRONTEND_TEST_DATA ${CMAKE_CURRENT_BINARY_DIR}/frontend_data)
set(ONNX_TESTDATA /usr/share/libonnx-testdata/data)
set(FRONTEND_DATA_SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/make_frontend_data.py)

add_executable(test_tensor_io test_tensor_io.c)
target_link_libraries(test_tensor_io PRIVATE isbc_frontend)

add_test(NAME unit.frontend_data
         COMMAND ${ISBC_PYTHON} ${FRONTEND_DATA_SCRIPT} gen ${FRONTEND_TEST_DATA} ${ONNX_TESTDATA})
set_tests_properties(unit.frontend_data PROPERTIES FIXTURES_SETUP frontend_data)

add_test(NAME unit.tensor_io
         COMMAND test_tensor_io tensor ${FRONTEND_TEST_DATA} ${ONNX_TESTDATA})
set_tests_properties(unit.tensor_io PROPERTIES FIXTURES_REQUIRED frontend_data
                                               FIXTURES_SETUP frontend_written)

add_test(NAME unit.tensor_io.numpy_reads_ours
         COMMAND ${ISBC_PYTHON} ${FRONTEND_DATA_SCRIPT} check ${FRONTEND_TEST_DATA})
set_tests_properties(unit.tensor_io.numpy_reads_ours
                     PROPERTIES FIXTURES_REQUIRED "frontend_data;frontend_written")

add_test(NAME unit.onnx_import
         COMMAND test_tensor_io import ${FRONTEND_TEST_DATA} ${ONNX_TESTDATA})
set_tests_properties(unit.onnx_import PROPERTIES FIXTURES_REQUIRED frontend_data)

# Old opset forms (opsets 1-6): an old-form model and its newest-form twin through `isbc run`.
if(TARGET isbc)
  add_test(NAME unit.if_regions
           COMMAND ${ISBC_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/check_if.py
                   $<TARGET_FILE:isbc> ${CMAKE_CURRENT_BINARY_DIR}/if_regions)
  add_test(NAME unit.old_opsets
           COMMAND ${ISBC_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/check_old_opsets.py
                   $<TARGET_FILE:isbc> ${CMAKE_CURRENT_BINARY_DIR}/old_opsets)
  # Static sequences and unrolled Loops (frontend/sequence.c), and their clean refusals.
  add_test(NAME unit.sequences
           COMMAND ${ISBC_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/check_sequences.py
                   $<TARGET_FILE:isbc> ${CMAKE_CURRENT_BINARY_DIR}/sequences)
  # Opsets 18-21 as current exporters write them, against NumPy.
  add_test(NAME unit.new_opsets
           COMMAND ${ISBC_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/check_new_opsets.py
                   $<TARGET_FILE:isbc> ${CMAKE_CURRENT_BINARY_DIR}/new_opsets)
  # The runtime files without kernel tests of their own (rnn, resize, select, norm, poolnd) on
  # random inputs against PyTorch.
  add_test(NAME unit.kernels
           COMMAND ${ISBC_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/check_kernels.py
                   $<TARGET_FILE:isbc> ${CMAKE_CURRENT_BINARY_DIR}/kernels)
  set_tests_properties(unit.kernels PROPERTIES TIMEOUT 600)
  # The same models (and those PyTorch has no equivalent of) against ONNX Runtime too, when
  # onnxruntime-node is installed from npm (`cd bench && npm install --ignore-scripts`; .ci/run
  # does it).
  find_program(ISBC_NODE node)
  if(ISBC_NODE AND EXISTS ${PROJECT_SOURCE_DIR}/bench/node_modules/onnxruntime-node/package.json)
    add_test(NAME unit.new_opsets.ort
             COMMAND ${ISBC_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/check_new_opsets.py
                     $<TARGET_FILE:isbc> ${CMAKE_CURRENT_BINARY_DIR}/new_opsets_ort --ort)
    add_test(NAME unit.kernels.ort
             COMMAND ${ISBC_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/check_kernels.py
                     $<TARGET_FILE:isbc> ${CMAKE_CURRENT_BINARY_DIR}/kernels_ort --ort)
    set_tests_properties(unit.kernels.ort PROPERTIES TIMEOUT 900)
  else()
    message(STATUS "onnxruntime-node not installed (bench/node_modules): "
                   "unit.new_opsets.ort and unit.kernels.ort not registered")
  endif()
endif()
