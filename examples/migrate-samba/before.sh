#!/bin/sh
# provision-backup-share.sh as it was BEFORE agevault: it gives the Samba account
# `backup` its password, and the password is written right here, in a file that
# every clone, fork, backup and CI log of the repository carries.
#
# DO NOT COPY THIS. It is the starting point of the migration in README.md;
# after.sh is the same step with the password in the vault.
set -eu

# (Packages, the share in smb.conf and the `backup` system user are set up
# elsewhere and do not change in the migration.)

printf '%s\n%s\n' 'Sh4re-backup-2019' 'Sh4re-backup-2019' | smbpasswd -a -s backup
