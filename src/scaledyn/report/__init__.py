"""The report: a JSON context of every quoted number (``context``), rendered into LaTeX (``render``)."""
