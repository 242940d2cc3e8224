package output

// CSVCell returns s as a CSV cell: Printable, and, when a spreadsheet would read it as
// a formula, made text. A cell that begins with '=', '+', '-', '@', TAB or CR (OWASP's
// "CSV Injection" list) is written after a single quote ("'=HYPERLINK(...)"), which
// spreadsheets take as "this cell is text" and do not show; a cell that is a decimal
// number ("-1", "+2.5", "-3e-07") or the dash alone that marks an empty cell is left as
// it is, since a spreadsheet reads it as that number or that text and runs nothing.
// The quote is decided on s before Printable escapes TAB and CR.
func CSVCell(s string) string {
	if formulaLike(s) {
		s = "'" + s
	}
	return Printable(s)
}

// CSVRow returns a copy of row with each cell made a CSVCell.
func CSVRow(row []string) []string {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = CSVCell(c)
	}
	return out
}

// formulaLike reports whether a spreadsheet would read s as a formula.
func formulaLike(s string) bool {
	if s == "" || s == "-" {
		return false
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return true
	case '+', '-':
		return !decimal(s)
	}
	return false
}

// decimal reports whether s is a decimal number: a sign, digits with at most one
// point (at least one digit), and an optional exponent ("e", a sign, digits).
func decimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits, point := 0, false
	for ; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			digits++
		} else if c == '.' && !point {
			point = true
		} else {
			break
		}
	}
	if digits == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != 'e' && s[i] != 'E' {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
