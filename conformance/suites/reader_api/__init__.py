"""The reader_api suite: certifies an implementation of the unified reader interface (统一读卡接口).

Run as `pytest conformance/suites/reader_api --dut <spec>` against any DUT playing the `reader`
role: `sim` (the Python reference), `sim:mutant=<reader mutant>`, or `lib:<path to .so>`. The
expectations come from profiles/national/reader_api.yaml; every test names its READER-* clause.
"""
