UNIT_TESTS := test_conf test_zone test_query test_dnsclient
