/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The throwaway PKI of the harnesses that check certificates (fuzz_cert.c,
 * fuzz_dtls.c), made with tools/campagnol-pki: the CA "Fuzz CA" and its
 * CRL, which revokes serial 02 (bob); alice (10.0.0.1), whose key is here
 * because fuzz_dtls plays her. It signed the certificates of their seeds
 * (corpus/cert/, corpus/dtls/: carol, 10.0.0.3). Nothing outside the fuzz
 * harnesses trusts it.
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

#endif
