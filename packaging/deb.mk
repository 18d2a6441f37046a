# The Debian package: `make deb` (and `make deb-lint`). Included at the end of the Makefile.

## The Debian packages `make deb` and the package tests need, on top of the build's. lintian
## is the only one a fresh Debian 12 image lacks; systemd brings systemd-analyze.
DEB_APT_PACKAGES := dpkg-dev lintian systemd adduser binutils curl
APT_PACKAGES += $(DEB_APT_PACKAGES)

.PHONY: deb deb-lint

## deb: build/aoai-canary_<version>_<arch>.deb: a release build, stripped, Depends from dpkg-shlibdeps
deb: deps
	SWIFT="$(SWIFT)" packaging/build-deb.sh

## deb-lint: the package through lintian, failing on any error or warning
deb-lint: deb
	lintian --fail-on error,warning build/aoai-canary_$$(.build/release/aoai-canary --version | awk '{ print $$2 }')_$$(dpkg --print-architecture).deb
