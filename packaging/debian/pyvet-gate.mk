# pyvet's gate for debhelper builds. In debian/rules, after the dh line:
#
#   include /usr/share/pyvet/pyvet-gate.mk
#
# or paste the rule below. It runs after dh_install, when debian/PACKAGE
# holds each package's tree: dh_auto_test (and so an override_dh_auto_test)
# runs before anything is installed, so it would see no package. The gate is
# brp-pyvet (pyvet markers + pyvet audit); a finding at warning or above, or a
# pyvet error, stops the build. debian-build.toml is the debian policy for
# a tree whose pycs py3compile will write at install.
PYVET ?= pyvet
PYVET_GATE ?= /usr/share/pyvet/brp-pyvet
PYVET_POLICY ?= /usr/share/pyvet/debian-build.toml
PYVET_PACKAGES ?= $(shell dh_listpackages)

execute_after_dh_install:
	set -e; for p in $(PYVET_PACKAGES); do PYVET=$(PYVET) $(PYVET_GATE) debian/$$p $(PYVET_POLICY); done
