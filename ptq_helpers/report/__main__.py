"""python -m ptq_helpers.report RESULTS.json [MORE.json ...] -o report.md"""
import sys

from ptq_helpers.report.document import main

sys.exit(main())
