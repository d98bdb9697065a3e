"""Keep the TLS stack imported in this process for every pytester run.

pytester's in-process runs drop the modules an inner run imported; ``cryptography`` cannot be
imported a second time into one process (its compiled core keeps the first classes), so an inner
run that needs the test CA after another inner run has imported and dropped it fails with
``TypeError: curve must be an EllipticCurve instance``. Importing trustme here, once, keeps it
(and cryptography) loaded, so each test passes alone as in the whole suite.
"""

import trustme  # noqa: F401
