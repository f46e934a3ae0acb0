"""Report writers: report.json is the record; other formats are views of it."""
