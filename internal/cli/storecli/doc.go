// Package storecli holds what the commands over stored records share: Print,
// FormatTime and OrDash show records; NewCmdList and NewCmdRemove are the list and
// remove commands of a group stored by name.
package storecli
