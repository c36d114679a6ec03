# lit configuration for isbc's golden pass tests: every *.ir file here is a test; its RUN
# lines use %isbc (the driver) and FileCheck.
import lit.formats

config.name = "isbc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".ir"]
config.test_source_root = config.source_dir
config.substitutions.append(("%isbc", config.isbc))
config.substitutions.append(("FileCheck", config.filecheck))
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in"]
