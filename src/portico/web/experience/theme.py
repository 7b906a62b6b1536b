"""The pages' colours as a stylesheet (``/sign-in-exp/theme.css``): the admin's brand colour
on buttons, links and focus rings, its dark variant when dark mode is on, and text on the
buttons that stays readable whatever the colour."""

from __future__ import annotations


def on(hex_color: str) -> str:
    """Text on a button of ``hex_color`` (``#rgb`` or ``#rrggbb``): white, or near-black
    when that reads better (WCAG relative luminance; a light brand colour such as yellow)."""
    digits = hex_color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast with white (1.05 / (L + .05)) against contrast with #111 ((L + .05) / .056).
    return "#fff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.056 else "#111"


def stylesheet(primary: str, dark: str, dark_mode: bool, custom: str = "") -> str:
    """Light only unless the admin turned dark mode on (Logto's rule); then the browser's
    ``prefers-color-scheme`` picks, with ``dark`` as the brand colour."""
    light = f"--accent: {primary}; --on-accent: {on(primary)};"
    if not dark_mode:
        return f":root {{ color-scheme: light; {light} }}\n{custom}"
    return (
        f":root {{ {light} }}\n"
        f"@media (prefers-color-scheme: dark) {{ :root {{ --accent: {dark}; "
        f"--on-accent: {on(dark)}; }} }}\n{custom}"
    )
