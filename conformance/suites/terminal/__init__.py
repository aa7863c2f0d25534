"""The terminal suite: certifies bus validators, metro gates, scenic gates and POS terminals
through the `terminals` role of a DUT (`pytest conformance/suites/terminal --dut <spec>`)."""
