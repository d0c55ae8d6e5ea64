"""Rule tests: ``*.test.yaml`` files for ``simple-risk rules test`` and their pytest runners."""
