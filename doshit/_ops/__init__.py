"""Operating doshit: the read side (queries.py, shared with anything that shows doshit's state), text
formatting (table.py) and the ``doshit`` operator command (cli.py)."""
