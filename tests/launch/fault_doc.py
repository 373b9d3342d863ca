# The fault table of docs/faults.md as the fault tests read it: the row whose first column
# names a test in backticks (`fault_hang`) gives the exit code (its "exit" column) and the
# message (the first backticked text of its "message" column).
import re


def doc_row(doc_path, test):
    header, rows = None, []
    for line in open(doc_path, encoding="utf-8"):
        if not line.startswith("| "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if header is None:
            header = cells
        elif "`%s`" % test in cells[0]:
            rows.append(cells)
    if header is None or len(rows) != 1:
        raise SystemExit("docs/faults.md: %d table rows name `%s`, expected 1" % (len(rows), test))
    row = dict(zip(header, rows[0]))
    message = re.match(r"`([^`]+)`", row["message (the line on stderr)"])
    if not message:
        raise SystemExit("docs/faults.md: the row of `%s` has no `message`" % test)
    return int(row["exit"]), message.group(1)
