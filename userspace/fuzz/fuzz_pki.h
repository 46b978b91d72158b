/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The throwaway PKI of the harnesses that check certificates (fuzz_cert.c,
 * fuzz_dtls.c), made with tools/campagnol-pki: the CA "Fuzz CA" and its
 * CRL, which revokes serial 02 (bob); alice (10.0.0.1), whose key is here
 * because fuzz_dtls plays her. It signed the certificates of their seeds
 * (corpus/cert/, corpus/dtls/: carol, 10.0.0.3). Nothing outside the fuzz
 * harnesses trusts it.
 *
 * fuzz_rdv_auth.c has a PKI of its own, "Fuzz RDV CA" below (the key of
 * "Fuzz CA" was not kept, so no RDV certificate could be added to it),
 * made with tools/campagnol-pki, everything valid ten years: the RDV's
 * certificate (10.0.0.254, issued as a peer: `rdv` would make it for a
 * year only), alice (10.0.0.1), carol (10.0.0.3, fd00::3), bob
 * (10.0.0.2, revoked by the CRL), and their keys, which the harness's
 * clients use.
 */
#ifndef CPG_FUZZ_PKI_H
#define CPG_FUZZ_PKI_H

static const char fuzz_ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBbDCCARGgAwIBAgIUEzhYAlKdXx5CpquXeCKNCcnKTIswCgYIKoZIzj0EAwIw\n"
	"EjEQMA4GA1UEAwwHRnV6eiBDQTAeFw0yNjEyMDUwOTIxMzNaFw0zNjEyMDIwOTIx\n"
	"MzNaMBIxEDAOBgNVBAMMB0Z1enogQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\n"
	"AASwqm/lK/Y5sEIrTqPHcZkQT8sXbYJvYOkJgxxOU2Bch7bjbx2B4nxC6knrwUFf\n"
	"ZLUImYGys+vN7fRsDEJm/nmbo0UwQzASBgNVHRMBAf8ECDAGAQH/AgEAMA4GA1Ud\n"
	"DwEB/wQEAwIBBjAdBgNVHQ4EFgQU40Zmb200OnawlTkYqZCHsQvbxvYwCgYIKoZI\n"
	"zj0EAwIDSQAwRgIhAJ2fA2Hsa4y7I1uXCstZXiDC8KxHy611dqSe+r0uWAuYAiEA\n"
	"s1GtxrblL8wpZRvext0m8P6C3QQEFZ+96fIAECcc93I=\n"
	"-----END CERTIFICATE-----\n";

static const char fuzz_crl_pem[] =
	"-----BEGIN X509 CRL-----\n"
	"MIHgMIGIAgEBMAoGCCqGSM49BAMCMBIxEDAOBgNVBAMMB0Z1enogQ0EXDTI2MTIw\n"
	"NTA5MjE0MloXDTM2MTIwMjA5MjE0MlowFDASAgECFw0yNjEyMDUwOTIxMzRaoC8w\n"
	"LTAfBgNVHSMEGDAWgBTjRmZvbTQ6drCVORipkIexC9vG9jAKBgNVHRQEAwIBAzAK\n"
	"BggqhkjOPQQDAgNHADBEAiBxhi2Jv4JFh0KJxRJ5MIWSB06GDbwzRDGwoYOVLPfS\n"
	"lAIgCiYIFv0o0Aj00OgC/I6Qhtus9x4Vgv8ho6vWeKoPWYA=\n"
	"-----END X509 CRL-----\n";

static const char fuzz_alice_cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBpDCCAUmgAwIBAgIBATAKBggqhkjOPQQDAjASMRAwDgYDVQQDDAdGdXp6IENB\n"
	"MB4XDTI2MTIwNTA5MjEzM1oXDTM2MTIwMjA5MjEzM1owEDEOMAwGA1UEAwwFYWxp\n"
	"Y2UwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASwpnjtbOQem95eA++ejXX2YFnC\n"
	"anczfyRQbjLbIBrOMmDdzoZiGX1aaKZDD7bR85zdcsCbuGqw2l3b4tFOG6fCo4GR\n"
	"MIGOMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeAMB0GA1UdJQQWMBQGCCsG\n"
	"AQUFBwMCBggrBgEFBQcDATAPBgNVHREECDAGhwQKAAABMB0GA1UdDgQWBBRz2WaE\n"
	"9p4ejtL68uwETpCHqs4VkzAfBgNVHSMEGDAWgBTjRmZvbTQ6drCVORipkIexC9vG\n"
	"9jAKBggqhkjOPQQDAgNJADBGAiEA/dlzzzqpLsWkD5WT4si6aGL8EkZIcr4sa5bB\n"
	"07URXT4CIQCdVJfyTQc/Uw3OlmpytFwM8NHn0U+0Z2QovSRKL5N6pg==\n"
	"-----END CERTIFICATE-----\n";

static const char fuzz_alice_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDSlYtKIdw/V9DD+X\n"
	"4fmrONjO/GuplZbOqrMqIH+S0uShRANCAASwpnjtbOQem95eA++ejXX2YFnCancz\n"
	"fyRQbjLbIBrOMmDdzoZiGX1aaKZDD7bR85zdcsCbuGqw2l3b4tFOG6fC\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_rdv_ca_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBdDCCARmgAwIBAgIUH8a8zUa4DZrbymXCNkN2pTzeEPswCgYIKoZIzj0EAwIw\n"
	"FjEUMBIGA1UEAwwLRnV6eiBSRFYgQ0EwHhcNMjYxMjA2MjEwNzA1WhcNMzYxMjAz\n"
	"MjEwNzA1WjAWMRQwEgYDVQQDDAtGdXp6IFJEViBDQTBZMBMGByqGSM49AgEGCCqG\n"
	"SM49AwEHA0IABAXiNVobVns/E+l8J/+iSiKfqxpRFmTj3lgZu6iAqRYiqtj/+JQm\n"
	"3Bm5OaYQQS55QNIvVTbWb4YnVCyPblqKXNqjRTBDMBIGA1UdEwEB/wQIMAYBAf8C\n"
	"AQAwDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBRsFCTUHSwmh2eUOZ0bxrEZDHZL\n"
	"YDAKBggqhkjOPQQDAgNJADBGAiEArTDIrr6J0WhtCkcE9kCwtkfUFRllw3MBqT6Q\n"
	"JFgV3Z8CIQDHRl4VQWcy2/vb+/s3h8e5iZykUyYFyrfTl5X35tHEzA==\n"
	"-----END CERTIFICATE-----\n";

static const char fuzz_rdv_crl_pem[] =
	"-----BEGIN X509 CRL-----\n"
	"MIHkMIGMAgEBMAoGCCqGSM49BAMCMBYxFDASBgNVBAMMC0Z1enogUkRWIENBFw0y\n"
	"NjEyMDYyMTA3MDZaFw0zNjEyMDMyMTA3MDZaMBQwEgIBBBcNMjYxMjA2MjEwNzA2\n"
	"WqAvMC0wHwYDVR0jBBgwFoAUbBQk1B0sJodnlDmdG8axGQx2S2AwCgYDVR0UBAMC\n"
	"AQMwCgYIKoZIzj0EAwIDRwAwRAIgBLmrNa+S7866BHr7dOCeKzNhCUst37wjC0T8\n"
	"zRqwHIQCIFxvpwM/AivU7hsyEmOIKF6rylA2Gl4GxazWA0vzx4YU\n"
	"-----END X509 CRL-----\n";

static const char fuzz_rdv_cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBpTCCAUugAwIBAgIBATAKBggqhkjOPQQDAjAWMRQwEgYDVQQDDAtGdXp6IFJE\n"
	"ViBDQTAeFw0yNjEyMDYyMTA3MDVaFw0zNjEyMDMyMTA3MDVaMA4xDDAKBgNVBAMM\n"
	"A3JkdjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNeAt6yEnFS+4p4zHo/XTZ41\n"
	"O1+kXieoqSaK9BGmloFn4q4TleRaINrOZ/ww9YYGeAsE8U8chR+vSnt3oFG3L9Oj\n"
	"gZEwgY4wDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwHQYDVR0lBBYwFAYI\n"
	"KwYBBQUHAwIGCCsGAQUFBwMBMA8GA1UdEQQIMAaHBAoAAP4wHQYDVR0OBBYEFMl/\n"
	"rGvIeO4/aqaEP0m3m7261PUIMB8GA1UdIwQYMBaAFGwUJNQdLCaHZ5Q5nRvGsRkM\n"
	"dktgMAoGCCqGSM49BAMCA0gAMEUCIGCL5kovrl3aNWisCK+tWaHieAtSI1/sHAUu\n"
	"ogvyWE5aAiEA2GUkyPmCuA1jkLWn5H3/54DTS/2as3jr4X2vylYrY4M=\n"
	"-----END CERTIFICATE-----\n";

static const char fuzz_rdv_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQaCZ4IEkqOfYNKI7\n"
	"HONr4Jk5pfx4C1TIQraJHI4sflOhRANCAATXgLeshJxUvuKeMx6P102eNTtfpF4n\n"
	"qKkmivQRppaBZ+KuE5XkWiDazmf8MPWGBngLBPFPHIUfr0p7d6BRty/T\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_rdv_alice_cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBpzCCAU2gAwIBAgIBAjAKBggqhkjOPQQDAjAWMRQwEgYDVQQDDAtGdXp6IFJE\n"
	"ViBDQTAeFw0yNjEyMDYyMTA3MDZaFw0zNjEyMDMyMTA3MDZaMBAxDjAMBgNVBAMM\n"
	"BWFsaWNlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEayIcx1nks1shpu4hcYM5\n"
	"dalgapFEQn1QTni6QJwoLGjFKuO0XsbnOBBiRDZBkuplDSxfrJ15ILfFzPXJRrVY\n"
	"zKOBkTCBjjAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIHgDAdBgNVHSUEFjAU\n"
	"BggrBgEFBQcDAgYIKwYBBQUHAwEwDwYDVR0RBAgwBocECgAAATAdBgNVHQ4EFgQU\n"
	"nT5WiKlp/a9Fbb9Bch+BT+3FYFUwHwYDVR0jBBgwFoAUbBQk1B0sJodnlDmdG8ax\n"
	"GQx2S2AwCgYIKoZIzj0EAwIDSAAwRQIhANQhW86tBMbOjlD/cnQI2GO7XjmHA2Q+\n"
	"h9grVDJxvM+AAiBoUm34EK4+EwE5n5WYXbUzeHyVWDydQ+MEbiOH833gEQ==\n"
	"-----END CERTIFICATE-----\n";

static const char fuzz_rdv_alice_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgBihhr0pxmuAdcoM5\n"
	"2n7Rd7eLGYZ6H4jabllYUnamfIahRANCAARrIhzHWeSzWyGm7iFxgzl1qWBqkURC\n"
	"fVBOeLpAnCgsaMUq47Rexuc4EGJENkGS6mUNLF+snXkgt8XM9clGtVjM\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_rdv_carol_cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBuDCCAV+gAwIBAgIBAzAKBggqhkjOPQQDAjAWMRQwEgYDVQQDDAtGdXp6IFJE\n"
	"ViBDQTAeFw0yNjEyMDYyMTA3MDZaFw0zNjEyMDMyMTA3MDZaMBAxDjAMBgNVBAMM\n"
	"BWNhcm9sMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECcLIcU/5Sq3b+S8CGtth\n"
	"/dueoYSaRvZiT0MvTCl0PMcW4tXPMPAkP3bFAW/k+I5IlVKNwCkaQOWDgQb3t38t\n"
	"NKOBozCBoDAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIHgDAdBgNVHSUEFjAU\n"
	"BggrBgEFBQcDAgYIKwYBBQUHAwEwIQYDVR0RBBowGIcECgAAA4cQ/QAAAAAAAAAA\n"
	"AAAAAAAAAzAdBgNVHQ4EFgQUp4s/9qfW5t0uTJ/qTtorjIKigykwHwYDVR0jBBgw\n"
	"FoAUbBQk1B0sJodnlDmdG8axGQx2S2AwCgYIKoZIzj0EAwIDRwAwRAIgaT75o96L\n"
	"leZgqbdjmUwszM2sO3OQSqaOz32/rOYJupYCIGVWXKVn1JrxlRs2CHxN18cVtUX4\n"
	"ZOSj1McM37rTYIA4\n"
	"-----END CERTIFICATE-----\n";

static const char fuzz_rdv_carol_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgh4G53yXdboIqae26\n"
	"/qtbg41TKZ7LAMADog8PBGPa3b2hRANCAAQJwshxT/lKrdv5LwIa22H9256hhJpG\n"
	"9mJPQy9MKXQ8xxbi1c8w8CQ/dsUBb+T4jkiVUo3AKRpA5YOBBve3fy00\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_rdv_bob_cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBpjCCAUugAwIBAgIBBDAKBggqhkjOPQQDAjAWMRQwEgYDVQQDDAtGdXp6IFJE\n"
	"ViBDQTAeFw0yNjEyMDYyMTA3MDZaFw0zNjEyMDMyMTA3MDZaMA4xDDAKBgNVBAMM\n"
	"A2JvYjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABMgU84sruro9l2RtZLyOEELz\n"
	"sWSgRy+boyflnRkTJt+4eyLl0nvfUR663c4tUfV/n5sCYk4jsxBOMruprPBA3fqj\n"
	"gZEwgY4wDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwHQYDVR0lBBYwFAYI\n"
	"KwYBBQUHAwIGCCsGAQUFBwMBMA8GA1UdEQQIMAaHBAoAAAIwHQYDVR0OBBYEFKQd\n"
	"7SITIVNzN6oqFEeuL103QWxqMB8GA1UdIwQYMBaAFGwUJNQdLCaHZ5Q5nRvGsRkM\n"
	"dktgMAoGCCqGSM49BAMCA0kAMEYCIQCbfO9tVCihGeNRLsskbxLl4VJ/Al6UVZDP\n"
	"gR6IxOE4CAIhAOzmUCim7Q2RRKVBuljEAw5BWiY0AXnzREzKkB2Gjn8f\n"
	"-----END CERTIFICATE-----\n";

static const char fuzz_rdv_bob_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVlSaD42eR/i5A/sr\n"
	"iB2B4pXx1OBYNuDO9lb/y5LI7cqhRANCAATIFPOLK7q6PZdkbWS8jhBC87FkoEcv\n"
	"m6Mn5Z0ZEybfuHsi5dJ731Eeut3OLVH1f5+bAmJOI7MQTjK7qazwQN36\n"
	"-----END PRIVATE KEY-----\n";

#endif
