# mm_need.m4 — MM_NEED(VARIABLE-PREFIX, MODULES, DEBIAN-PACKAGES)
#
# One PKG_CHECK_MODULES per dependency group; when something is missing,
# stop and name the Debian package that provides it.
AC_DEFUN([MM_NEED], [PKG_CHECK_MODULES([$1], [$2], [],
  [AC_MSG_ERROR([$2 not found: install the Debian package $3 (apt-get install $3)])])])
