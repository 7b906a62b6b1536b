"""The sign-in interaction: verification codes, the sentinel (lockout and send limits), the
state of one interaction, and the steps that turn verified identifiers into a signed-in user.
No web imports: the pages in ``web/experience`` call these."""
