"""Text from files, made safe to print on a terminal.

A model file or a table chooses its column names, class labels and the strings in its
errors. Printed as they are, an ESC or a C1 control starts an escape sequence (CSI
moves the cursor or recolours, OSC sets the window title or a hyperlink, some terminals
answer queries into the input), a carriage return overwrites what the line said, and a
bidirectional override reorders what the reader sees. :func:`terminal_safe` writes every
such character as its Python escape (``\\x1b``, ``\\u202e``), so the text shows what is
in the file and does nothing else; every ``print`` of the command-line tool that can
carry text from a file goes through it.
"""

from __future__ import annotations

import unicodedata

__all__ = ["terminal_safe"]

# Cc: C0 and C1 controls and DEL; Cf: format characters (bidirectional controls,
# zero-width characters); Zl, Zp: line and paragraph separators (some terminals break
# lines at them); Cs: lone surrogates (undecodable bytes in a file name), which cannot
# be encoded; Co, Cn: private and unassigned code points, whose rendering is unknown
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_KEPT = frozenset("\n\t")  # the layout of multi-line output: not from a file's strings


def terminal_safe(text: str) -> str:
    """``text`` with each control, format or unassigned character as its escape.

    Newlines and tabs are kept (the caller's layout); everything else that is not
    printable text becomes ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        Printable characters, spaces, newlines and tabs only.

    Examples
    --------
    >>> terminal_safe("colour\\x1b[31m red\\x1b]0;owned\\x07")
    'colour\\\\x1b[31m red\\\\x1b]0;owned\\\\x07'
    >>> terminal_safe("label \\u202egnp.exe\\r\\nnext")
    'label \\\\u202egnp.exe\\\\r\\nnext'
    >>> terminal_safe("café 日本 ok\\tx")
    'café 日本 ok\\tx'
    """
    if text.isprintable():
        return text
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    if char in _KEPT or unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    return ascii(char)[1:-1]
