"""The throughput suite: a metro gate's transaction times measured through the harness, fed into
its station's gate array in the SimPy world, judged by the THR-* clauses
(`pytest conformance/suites/throughput --dut <gate DUT>`)."""
