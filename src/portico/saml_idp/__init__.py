"""Portico as a SAML 2.0 identity provider for SAML applications (issue 34, Logto's SAML apps).

Protocol only, no HTTP and no SQL: ``formats`` holds the names SAML and Logto agree on
(bindings, NameID formats, the claims an attribute mapping may name), ``certificates`` makes
an application's signing key and self-signed certificate, ``entity`` drives pysaml2 (with
Debian's ``xmlsec1`` for every XML signature and encryption) to publish the metadata, read
an AuthnRequest and write the signed Response. Portico never hand-writes signature code.
"""
